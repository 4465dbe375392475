#!/usr/bin/env bash
# README's main command. On a fresh Debian machine: installs what is needed,
# builds the upstream Kubernetes binaries and Vireo, brings up a local
# single-node cluster (hack/cluster-up.sh), builds and imports Vireo's images,
# installs Vireo with Helm, boots examples/vm-containerdisk.yaml and shows
# `kubectl get vm,vmi` and the first lines of the guest's serial console.
# Running it again reuses everything that is already there.
#
#   hack/demo.sh
#   hack/cluster-down.sh      stop the cluster afterwards
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
start=$SECONDS
step() { echo; echo "==> $* ($((SECONDS - start)) s)"; }

step "installing Debian packages (hack/install-deps.sh)"
hack/install-deps.sh
[[ -x /usr/local/go/bin/go ]] && export PATH=$PATH:/usr/local/go/bin

step "building the upstream binaries (hack/build-upstream.sh; minutes the first time)"
bin=$(hack/build-upstream.sh)

step "building Vireo (meson, build/)"
build=${VIREO_BUILD_DIR:-$root/build}
export CCACHE_DIR=${CCACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/vireo/ccache}
export CCACHE_BASEDIR=$root CCACHE_NOHASHDIR=true
[[ -f $build/build.ninja ]] || CXX="ccache g++" meson setup "$build" >/dev/null
ninja -C "$build" virtctl/virtctl

step "bringing up the local cluster (hack/cluster-up.sh)"
export VIREO_CLUSTER_DIR=${VIREO_CLUSTER_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/vireo/cluster}
VIREO_UPSTREAM_BIN=$bin hack/cluster-up.sh
# shellcheck disable=SC1091
source "$VIREO_CLUSTER_DIR/env"
export KUBECONFIG
kubectl=("$BIN/kubectl")

step "building Vireo's images and importing them into the cluster (images/build.sh)"
images=${VIREO_IMAGE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/vireo/images/out}
VIREO_IMAGE_JOBS=${VIREO_IMAGE_JOBS:-2} images/build.sh --out "$images"
hack/cluster-load-images.sh "$images"/vireo-controller.tar "$images"/vireo-launcher.tar \
  "$images"/generic-device-plugin.tar "$images"/test-disk.tar

step "installing Vireo with Helm (manifests/chart)"
# Helm installs a chart's CRDs only on first install and never upgrades
# them (docs/chart.md): a cluster kept from an older Vireo gets the current
# ones here, or the controller would watch resources its apiserver lacks.
"${kubectl[@]}" apply -f manifests/chart/crds/ >/dev/null
# The node holds the launcher's seccomp profile (hack/cluster/node.sh): VMs
# with an interface then pass PodSecurity "restricted" too.
"$BIN/helm" upgrade --install vireo manifests/chart -n vireo-system --create-namespace --wait --timeout 5m \
  --set launcher.seccompProfile="$VIREO_LAUNCHER_SECCOMP_PROFILE"
"${kubectl[@]}" get deployment -n vireo-system

step "booting examples/vm-containerdisk.yaml"
# A fresh boot each run, so the console shows it from the start.
"${kubectl[@]}" delete -f examples/vm-containerdisk.yaml --ignore-not-found --wait=true --timeout=180s
t0=$SECONDS
"${kubectl[@]}" apply -f examples/vm-containerdisk.yaml
# The controller makes the VMI a moment after the VM: wait for it to exist first.
"${kubectl[@]}" wait vmi/testvm --for=create --timeout=120s
"${kubectl[@]}" wait vmi/testvm --for=jsonpath='{.status.phase}'=Running --timeout=300s
echo "VM create -> VMI Running: $((SECONDS - t0)) s"
"${kubectl[@]}" get vm,vmi

step "the guest's serial console (virtctl console testvm, piped)"
python3 - "$build/virtctl/virtctl" <<'PY'
import re
import sys
sys.path.insert(0, "tests/e2e")
from console import Console
con = Console([sys.argv[1], "console", "testvm", "--timeout", "5m"])
ok = con.expect(r"VIREO-TEST-DISK READY", 180)
con.send("uname -sr; echo hello from the guest\n")
con.expect(r"\nhello from the guest", 30)
con.close()
text = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", con.output().replace("\r", ""))  # terminal queries
lines = [l for l in text.split("\n") if l.strip()]
print("\n".join(lines[:40]))
if not ok:
    sys.exit("the guest did not print VIREO-TEST-DISK READY within 180 s; virtctl said: " + con.stderr())
PY

cat <<EOF
Vireo is running ($((SECONDS - start)) s). Try:
  export KUBECONFIG=$KUBECONFIG PATH=$BIN:$build/virtctl:\$PATH
  kubectl get vm,vmi
  virtctl console testvm          # Ctrl+] leaves
  virtctl stop testvm; virtctl start testvm
  kubectl apply -f examples/      # more examples (examples/README.md)
Stop the cluster with hack/cluster-down.sh.
EOF
