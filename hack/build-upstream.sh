#!/usr/bin/env bash
# Builds the upstream binaries the tests and the local cluster run (etcd,
# kube-apiserver, kube-controller-manager, kube-scheduler, kubelet, kube-proxy,
# kubectl, helm, generic-device-plugin, which images/build.sh wraps as the
# chart's KVM device plugin image, coredns and local-path-provisioner, which
# hack/cluster-up.sh wraps as the cluster DNS image and the provisioner of its
# default StorageClass) from the Go module proxy, at the versions pinned in
# tests/cluster/*/go.mod.
#
# The binaries go to a cache directory outside the source tree, keyed by a hash
# of the pins and of this script, so a warm run reuses them and a changed pin
# rebuilds; other pins' binaries are deleted a week after their last use.
# Prints the bin directory on stdout; progress goes to stderr.
#
#   hack/build-upstream.sh            build if needed, print the bin directory
#   VIREO_CACHE_DIR=/x hack/...       use another cache root (default ~/.cache/vireo)
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
pins="$root/tests/cluster"
cache_root=${VIREO_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/vireo}

# Release versions stamped into the binaries: without them kube-apiserver says
# v0.0.0-master+$Format:%H$, which kubectl and helm cannot parse.
k8s_version=$(awk '$1=="require" && $2=="k8s.io/kubernetes" {print $3}' "$pins/kubernetes/go.mod")
[[ $k8s_version =~ ^v([0-9]+)\.([0-9]+)\.[0-9]+$ ]] || {
  echo "build-upstream: cannot read the k8s.io/kubernetes version from $pins/kubernetes/go.mod" >&2; exit 1; }
k8s_major=${BASH_REMATCH[1]} k8s_minor=${BASH_REMATCH[2]}

# Bump when the way the binaries are built changes (flags, names), so caches
# built the old way are not reused.
recipe=2  # 2: kube-proxy
key=$( (cat "$pins"/*/go.mod "$pins"/*/go.sum; echo "recipe=$recipe") | sha256sum | cut -c1-16)
bin="$cache_root/upstream/$key/bin"
wanted=(etcd kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy kubectl helm
  generic-device-plugin coredns local-path-provisioner)

complete() { local b; for b in "${wanted[@]}"; do [[ -x $bin/$b ]] || return 1; done; }

if complete; then
  touch "$cache_root/upstream/$key"  # in use: see the pruning below
  echo "$bin"
  exit 0
fi

# One build at a time: concurrent runs (the T1 harness, cluster-up, CI steps)
# would share bin.partial and replace each other's results.
mkdir -p "$cache_root/upstream"
exec 9>"$cache_root/upstream/.lock"
flock 9
if complete; then
  touch "$cache_root/upstream/$key"  # in use: see the pruning below
  echo "$bin"
  exit 0
fi

command -v go >/dev/null || { echo "build-upstream: Go is not installed (hack/install-deps.sh installs it)" >&2; exit 1; }

rm -rf "$bin.partial"
mkdir -p "$bin.partial"
export CGO_ENABLED=0 GOFLAGS=-mod=mod
start=$SECONDS
ldflags_k8s="-s -w \
 -X k8s.io/component-base/version.gitVersion=$k8s_version \
 -X k8s.io/component-base/version.gitMajor=$k8s_major \
 -X k8s.io/component-base/version.gitMinor=$k8s_minor \
 -X k8s.io/component-base/version.gitTreeState=clean \
 -X k8s.io/client-go/pkg/version.gitVersion=$k8s_version \
 -X k8s.io/client-go/pkg/version.gitMajor=$k8s_major \
 -X k8s.io/client-go/pkg/version.gitMinor=$k8s_minor"

build() { # dir out-dir package...
  local dir=$1 out=$2; shift 2
  echo "build-upstream: building $* ..." >&2
  (cd "$dir" && go build -trimpath -ldflags "$ldflags" -o "$out/" "$@")
}

ldflags="-s -w"
build "$pins/etcd" "$bin.partial" go.etcd.io/etcd/server/v3
mv "$bin.partial/server" "$bin.partial/etcd"  # the module root is package main "server"
ldflags=$ldflags_k8s
build "$pins/kubernetes" "$bin.partial" \
  k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kubectl \
  k8s.io/kubernetes/cmd/kube-controller-manager k8s.io/kubernetes/cmd/kube-scheduler \
  k8s.io/kubernetes/cmd/kubelet k8s.io/kubernetes/cmd/kube-proxy
helm_version=$(awk '$1=="require" && $2=="helm.sh/helm/v3" {print $3}' "$pins/helm/go.mod")
ldflags="-s -w -X helm.sh/helm/v3/internal/version.version=$helm_version"
build "$pins/helm" "$bin.partial" helm.sh/helm/v3/cmd/helm
# Static (CGO_ENABLED=0), so its image needs no libraries.
ldflags="-s -w"
build "$pins/device-plugin" "$bin.partial" github.com/squat/generic-device-plugin
# Static too; its version is a constant of the module (coremain.CoreVersion).
build "$pins/coredns" "$bin.partial" github.com/coredns/coredns
# Static too; without the stamp it calls itself version 0.0.1.
lp_version=$(awk '$1=="require" && $2=="github.com/rancher/local-path-provisioner" {print $3}' "$pins/local-path/go.mod")
ldflags="-s -w -X main.VERSION=$lp_version"
build "$pins/local-path" "$bin.partial" github.com/rancher/local-path-provisioner

rm -rf "$bin"
mv "$bin.partial" "$bin"
# Other pins' binaries may still be in use: by another checkout sharing this
# cache (a branch, a CI directory) or by a running cluster started from them.
# Those no run has asked for in a week go.
find "$cache_root/upstream" -mindepth 1 -maxdepth 1 -type d ! -name "$key" -mtime +7 -exec rm -rf {} +
complete || { echo "build-upstream: build finished but binaries are missing in $bin" >&2; exit 1; }
echo "build-upstream: built in $((SECONDS - start)) s into $bin" >&2
echo "$bin"
