#!/usr/bin/env bash
# Starts (or repairs) a single-node Kubernetes cluster of upstream parts on
# this machine, for the end-to-end tests and the demo: a private containerd,
# etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kubelet and
# kube-proxy, pod networking on the bridge vireo0, the cluster DNS (CoreDNS),
# a dynamic provisioner behind the default StorageClass `local-path`, and a
# StorageClass `vireo-local` for hand-made volumes (hack/cluster-pv.sh).
#
#   hack/cluster-up.sh               start what is not running, check the rest
#   source "$VIREO_CLUSTER_DIR/env"  KUBECONFIG, CONTAINERD_ADDRESS, BIN, ...
#   hack/cluster-down.sh [--purge]   stop everything (--purge: delete the state)
#
# State, logs and pid files: ${VIREO_CLUSTER_DIR:-~/.cache/vireo/cluster}.
# Running it again is cheap: running components that pass their health check
# are left alone, dead ones are restarted, ones whose configuration changed
# are restarted. Needs root (re-runs itself with sudo). See docs/cluster.md.
set -euo pipefail

# shellcheck source=lib/cluster.sh
source "$(dirname "$0")/lib/cluster.sh"
# shellcheck source=lib/oci.sh
source "$cluster_root/hack/lib/oci.sh"
# shellcheck source=lib/pki.sh
source "$cluster_root/hack/lib/pki.sh"
start=$SECONDS

# The upstream binaries are built as the calling user (Go's caches are
# theirs), before switching to root.
if [[ -z ${VIREO_UPSTREAM_BIN:-} ]]; then
  VIREO_UPSTREAM_BIN=$("$cluster_root/hack/build-upstream.sh") ||
    cluster_fail "building the upstream binaries (hack/build-upstream.sh)"
fi
export VIREO_UPSTREAM_BIN
# The pinned Kubernetes sources (the pause image is built from them): in Go's
# module cache after build-upstream.sh; `go mod download` says where.
k8s_src() {
  (cd "$cluster_root/tests/cluster/kubernetes" &&
    go mod download -json k8s.io/kubernetes | python3 -c 'import json,sys; print(json.load(sys.stdin)["Dir"])')
}
if [[ $(id -u) != 0 && -z ${VIREO_K8S_SRC:-} ]]; then
  VIREO_K8S_SRC=$(k8s_src 2>/dev/null) || true  # only needed on the first run
  export VIREO_K8S_SRC
fi
cluster_need_root "$@"
BIN=$VIREO_UPSTREAM_BIN
kubectl=("$BIN/kubectl" --kubeconfig="$STATE/kubeconfig")

for tool in containerd ctr runc iptables ip openssl curl python3; do
  command -v "$tool" >/dev/null ||
    cluster_fail "checking tools: $tool is missing (hack/install-deps.sh installs it)"
done
[[ -x /usr/lib/cni/bridge && -x /usr/lib/cni/host-local && -x /usr/lib/cni/loopback ]] ||
  cluster_fail "checking tools: CNI plugins missing in /usr/lib/cni (package containernetworking-plugins)"

mkdir -p "$STATE" "$RUN" "$LOGS" "$PKI"
chmod 755 "$STATE"

# The parts, in order; each says what it does and what it leaves for the next.
for part in pki network images containerd control-plane node dns storage; do
  # shellcheck source=/dev/null
  source "$cluster_root/hack/cluster/$part.sh"
done

{
  printf '%s=%q\n' KUBECONFIG "$STATE/kubeconfig" CONTAINERD_ADDRESS "$CONTAINERD_SOCK" BIN "$BIN" \
    VIREO_CLUSTER_DIR "$STATE" VIREO_NODE "$NODE_NAME" VIREO_STORAGE_CLASS vireo-local \
    VIREO_DEFAULT_STORAGE_CLASS local-path \
    VIREO_PAUSE_IMAGE "$pause_image" VIREO_BUSYBOX_IMAGE "$busybox_image" \
    VIREO_LAUNCHER_SECCOMP_PROFILE "$launcher_seccomp_profile"
} > "$STATE/env"

# Under sudo: the caller gets the kubeconfig and env.
if [[ -n ${VIREO_OWNER:-} ]]; then
  chown "$VIREO_OWNER" "$STATE/kubeconfig" "$STATE/env"
fi

cluster_log "cluster ready in $((SECONDS - start)) s: export KUBECONFIG=$STATE/kubeconfig (or: source $STATE/env)"
