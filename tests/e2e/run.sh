#!/usr/bin/env bash
# T3: brings up the local cluster (hack/cluster-up.sh), builds Vireo's images
# and imports them (images/build.sh, hack/cluster-load-images.sh), then runs
# e2e_test.py, kvm_test.py, guest_test.py, dns_test.py, storage_test.py,
# datavolume_test.py and lifecycle_test.py against it. On failure, what a
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
# (guest_test.py); both cached.
VIREO_DEBIAN_DISK=$("$root/images/debian-cloud/build.sh")
export VIREO_DEBIAN_DISK
"$root/hack/cluster-load-images.sh" "$("$root/images/debian-cloud/containerdisk.sh")" >&2
say "Debian cloud image built and imported"

# shellcheck disable=SC1091
source "$VIREO_CLUSTER_DIR/env"
rm -rf "$logs" && mkdir -p "$logs"
rc=0
python3 "$root/tests/e2e/e2e_test.py" --cluster-dir "$VIREO_CLUSTER_DIR" \
  --virtctl "$build/virtctl/virtctl" --logs "$logs" || rc=$?
# KVM through the chart's device plugin (installs and uninstalls the chart itself).
python3 "$root/tests/e2e/kvm_test.py" --cluster-dir "$VIREO_CLUSTER_DIR" \
  --virtctl "$build/virtctl/virtctl" --logs "$logs" || rc=1
# Debian with the real cloud-init, and the pod network through passt (likewise).
python3 "$root/tests/e2e/guest_test.py" --cluster-dir "$VIREO_CLUSTER_DIR" \
  --virtctl "$build/virtctl/virtctl" --logs "$logs" || rc=1
python3 "$root/tests/e2e/dns_test.py" --cluster-dir "$VIREO_CLUSTER_DIR" --virtctl "$build/virtctl/virtctl" --logs "$logs" || rc=1
# The default StorageClass (local-path) and a VM on a Block PVC (installs and
# uninstalls the chart itself).
python3 "$root/tests/e2e/storage_test.py" --cluster-dir "$VIREO_CLUSTER_DIR" --virtctl "$build/virtctl/virtctl" --logs "$logs" || rc=1
# DataVolumes: http imports from an in-cluster server, a clone, registry and
# blank sources, bad input (likewise).
python3 "$root/tests/e2e/datavolume_test.py" --cluster-dir "$VIREO_CLUSTER_DIR" --virtctl "$build/virtctl/virtctl" --logs "$logs" || rc=1
# virtctl stop --grace-period reaching a slow guest, cloud-init from Secrets,
# template annotations on the launcher pod (likewise).
python3 "$root/tests/e2e/lifecycle_test.py" --cluster-dir "$VIREO_CLUSTER_DIR" --virtctl "$build/virtctl/virtctl" --logs "$logs" || rc=1
say "tests done"
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
    echo "---- consoles: $logs"
  } >&2
fi
exit $rc
