#!/usr/bin/env bash
# T3: brings up the local cluster (hack/cluster-up.sh), builds Vireo's images
# and imports them (images/build.sh, hack/cluster-load-images.sh), then runs
# e2e_test.py, kvm_test.py, guest_test.py, dns_test.py, storage_test.py,
# datavolume_test.py and lifecycle_test.py against it, then bench/start_bench.py
# (a VM start phase by phase). On failure, what a
# person needs to see is printed: pods,
# events, the controller's and launchers' logs. The cluster is left running
# (the next run reuses it); hack/cluster-down.sh stops it.
#
#   tests/e2e/run.sh [BUILD_DIR]     BUILD_DIR holds virtctl (default build/)
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-${VIREO_BUILD_DIR:-$root/build}}
export VIREO_CLUSTER_DIR=${VIREO_CLUSTER_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/vireo/cluster}
logs=${VIREO_E2E_LOGS:-$VIREO_CLUSTER_DIR/e2e-logs}
start=$SECONDS
say() { echo "e2e: $* ($((SECONDS - start)) s)" >&2; }

"$root/hack/cluster-up.sh" >&2
say "cluster up"
images=${VIREO_IMAGE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/vireo/images/out}
VIREO_IMAGE_JOBS=${VIREO_IMAGE_JOBS:-2} "$root/images/build.sh" --out "$images" >&2
"$root/hack/cluster-load-images.sh" "$images"/vireo-controller.tar "$images"/vireo-launcher.tar \
  "$images"/generic-device-plugin.tar "$images"/test-disk.tar >&2
say "images built and imported"
VIREO_TEST_DISK_IMG=$("$root/images/test-disk/build.sh")
export VIREO_TEST_DISK_IMG
# Debian 12 with the real cloud-init: the disk datavolume_test.py serves over
# http for a DataVolume to import, and the same disk as a containerDisk
# (guest_test.py); both cached. The test disk's kernel and initramfs as a
# firmware.kernelBoot image (e2e_test.py, examples/vm-kernel-boot.yaml).
VIREO_DEBIAN_DISK=$("$root/images/debian-cloud/build.sh")
export VIREO_DEBIAN_DISK
"$root/hack/cluster-load-images.sh" "$("$root/images/debian-cloud/containerdisk.sh")" \
  "$("$root/images/test-disk/kernelboot.sh")" >&2
say "Debian cloud image built and imported"

# shellcheck disable=SC1091
source "$VIREO_CLUSTER_DIR/env"
rm -rf "$logs" && mkdir -p "$logs"
rc=0
free_disk() { df -h --output=avail "$VIREO_CLUSTER_DIR" | tail -1 | tr -d ' '; }
say "$(free_disk) free on the cluster's disk"
# Each file in turn; one that fails does not stop the others. Its time is
# printed so that a slow file is seen in CI's log.
t3() {
  local name=$1 began=$SECONDS; shift
  # The pause image cannot be pulled here; if the kubelet's disk-pressure
  # clean-up deleted it, every later pod would hang. Fail the run, say why,
  # and bring it back (cluster-up imports what is missing) for the files left.
  if [[ -z $(ctr --address "$CONTAINERD_ADDRESS" -n k8s.io images ls -q "name==$VIREO_PAUSE_IMAGE") ]]; then
    say "the pause image $VIREO_PAUSE_IMAGE is gone from containerd (disk pressure?); importing it again"
    rc=1
    "$root/hack/cluster-up.sh" >&2
  fi
  # The output is kept too: the failed checks are printed again at the end,
  # where CI's tail shows them.
  PYTHONUNBUFFERED=1 python3 "$root/tests/e2e/$name.py" --cluster-dir "$VIREO_CLUSTER_DIR" \
    --virtctl "$build/virtctl/virtctl" --logs "$logs" "$@" 2>&1 | tee "$logs/$name.out" || rc=1
  say "$name done in $((SECONDS - began)) s, rc so far $rc, $(free_disk) free on the cluster's disk"
}
t3 e2e_test
# KVM through the chart's device plugin (installs and uninstalls the chart itself).
t3 kvm_test
# Debian with the real cloud-init, and the pod network through passt (likewise).
t3 guest_test
t3 dns_test
# The default StorageClass (local-path) and a VM on a Block PVC (installs and
# uninstalls the chart itself).
t3 storage_test
# DataVolumes: http imports from an in-cluster server, a clone, registry and
# blank sources, bad input (likewise).
t3 datavolume_test
# virtctl stop --grace-period reaching a slow guest, cloud-init from Secrets,
# template annotations on the launcher pod, a guest filling its RAM and
# disks within its memory limit (likewise).
t3 lifecycle_test
say "tests done"
# Where a VM start's time goes, phase by phase (prints figures; fails only
# when a VM does not start).
python3 "$root/bench/start_bench.py" --cluster-dir "$VIREO_CLUSTER_DIR" \
  --virtctl "$build/virtctl/virtctl" --count 5 || rc=1
say "start_bench done, rc so far $rc"
if ((rc != 0)); then
  k=("$BIN/kubectl" --kubeconfig="$KUBECONFIG")
  {
    echo "---- pods and events"
    "${k[@]}" get pods,vm,vmi -A -o wide || true
    "${k[@]}" get events -A --sort-by=.lastTimestamp | tail -40 || true
    echo "---- controller log (last 60 lines)"
    "${k[@]}" logs -n vireo-system deployment/vireo-controller --tail=60 || true
    for pod in $("${k[@]}" get pods -n vireo-e2e -o name 2>/dev/null); do
      echo "---- $pod (last 40 lines)"
      "${k[@]}" logs -n vireo-e2e "$pod" --all-containers --tail=40 || true
    done
    # A full disk makes the kubelet evict pods and delete images (the pause
    # image among them): say so when it happened.
    echo "---- disk"
    df -h "$VIREO_CLUSTER_DIR" || true
    grep -h -i -E "eviction manager|DiskPressure|freeing|image garbage" \
      "$VIREO_CLUSTER_DIR/logs/kubelet.log" 2>/dev/null | tail -20 || true
    echo "---- consoles: $logs"
    echo "---- failed checks"
    grep -h -A4 "^FAILED" "$logs"/*.out | tail -60 || true
  } >&2
fi
exit $rc
