# shellcheck shell=bash
# Part of hack/cluster-up.sh (sourced by it, in order): the images every
# pod of the cluster needs, as OCI archives in $STATE/images (hack/lib/oci.sh),
# rebuilt only when their sources change; containerd.sh imports them. Sets
# pause_image, busybox_image, coredns_image, local_path_image (and their
# *_archive), coredns_version.

# No registry is reachable: the pause image (the pod sandbox) is compiled
# from the pinned Kubernetes sources, busybox comes from Debian's
# busybox-static, CoreDNS and the local-path provisioner are static binaries
# hack/build-upstream.sh built; all are written as OCI archives and imported.
images=$STATE/images
mkdir -p "$images"
k8s_version=$(awk '$1=="require" && $2=="k8s.io/kubernetes" {print $3}' "$cluster_root/tests/cluster/kubernetes/go.mod")
# The writer and this file are the recipe: a change to either rebuilds.
image_recipe=$(cat "$cluster_root/hack/lib/oci.sh" "${BASH_SOURCE[0]}" | sha256sum | cut -c1-12)
# cluster_image ARCHIVE NAME:TAG ROOT ENTRYPOINT-JSON [CMD-JSON]: a one-layer
# image of ROOT, root-owned, its times 0 (the same files give the same digest).
cluster_image() {
  local config="{\"Entrypoint\":$4,\"Env\":[\"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\"]"
  [[ -z ${5:-} ]] || config+=",\"Cmd\":$5"
  SOURCE_DATE_EPOCH=0 oci_tree_archive "$1" "$2" "$3" "$config}" hack/cluster-up.sh "$2" --owner=0 --group=0
}

pause_archive=$images/pause-$k8s_version-$image_recipe.tar
if [[ ! -f $pause_archive || ! -f $pause_archive.name ]]; then
  cluster_step "building the pause image" images
  (
    set -e
    command -v gcc >/dev/null || { echo "gcc is not installed" >&2; exit 1; }
    src=${VIREO_K8S_SRC:-$(k8s_src)}
    tag=$(awk '$1=="TAG" {print $3}' "$src/build/pause/Makefile")
    work=$(mktemp -d)
    trap 'rm -rf "$work"' EXIT
    mkdir -p "$work/rootfs"
    gcc -Os -Wall -Werror -static -DVERSION="v$tag-vireo" -o "$work/rootfs/pause" "$src/build/pause/linux/pause.c"
    strip "$work/rootfs/pause"
    cluster_image "$pause_archive" "vireo.local/pause:$tag" "$work/rootfs" '["/pause"]'
    echo "vireo.local/pause:$tag" > "$pause_archive.name"
  ) >"$LOGS/images.log" 2>&1
fi
pause_image=$(cat "$pause_archive.name")

busybox_image=""
if [[ -x /bin/busybox ]] && ! ldd /bin/busybox >/dev/null 2>&1; then  # static only
  busybox_sum=$(sha256sum /bin/busybox | cut -c1-12)
  busybox_archive=$images/busybox-$busybox_sum-$image_recipe.tar
  busybox_image=vireo.local/busybox:$(/bin/busybox 2>&1 | sed -n '1s/^BusyBox v\([0-9.]*\).*/\1/p')
  if [[ ! -f $busybox_archive ]]; then
    cluster_step "building the busybox image" images
    (
      set -e
      work=$(mktemp -d)
      trap 'rm -rf "$work"' EXIT
      mkdir -p "$work/bin" "$work/etc" "$work/tmp"
      chmod 1777 "$work/tmp"
      cp /bin/busybox "$work/bin/busybox"
      for applet in $(/bin/busybox --list); do
        [[ $applet == busybox ]] || ln -s busybox "$work/bin/$applet"
      done
      printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' > "$work/etc/passwd"
      printf 'root:x:0:\nnobody:x:65534:\n' > "$work/etc/group"
      cluster_image "$busybox_archive" "$busybox_image" "$work" null '["sh"]'
    ) >"$LOGS/images.log" 2>&1
  fi
else
  cluster_log "no static /bin/busybox (package busybox-static): no busybox image"
fi

# static_image IMAGE BINARY: an image of the static BINARY alone, as
# /<its name> (the entrypoint), readable by a non-root user; built when the
# binary changed. Its archive's path goes to $static_archive.
static_image() {
  local image=$1 binary=$2
  static_archive=$images/$(basename "$binary")-$(sha256sum "$binary" | cut -c1-12)-$image_recipe.tar
  [[ -f $static_archive ]] && return 0
  cluster_step "building the image $image" images
  (
    set -e
    work=$(mktemp -d)
    trap 'rm -rf "$work"' EXIT
    install -d -m 0755 "$work/rootfs"
    install -m 0755 "$binary" "$work/rootfs/"
    cluster_image "$static_archive.part" "$image" "$work/rootfs" "[\"/$(basename "$binary")\"]"
    mv "$static_archive.part" "$static_archive"
  ) >"$LOGS/images.log" 2>&1
}
# pin_version DIR MODULE: the version tests/cluster/DIR/go.mod pins, without its v.
pin_version() {
  awk -v m="$2" '$1=="require" && $2==m {sub(/^v/, "", $3); print $3}' "$cluster_root/tests/cluster/$1/go.mod"
}

# The cluster DNS, tagged with its version (the pin in
# tests/cluster/coredns/go.mod), as the pause image is.
[[ -x $BIN/coredns ]] ||
  cluster_fail "building the CoreDNS image: no $BIN/coredns (hack/build-upstream.sh builds it)"
coredns_version=$(pin_version coredns github.com/coredns/coredns)
[[ -n $coredns_version ]] || cluster_fail "building the CoreDNS image: no CoreDNS pin in tests/cluster/coredns/go.mod"
coredns_image=vireo.local/coredns:$coredns_version
static_image "$coredns_image" "$BIN/coredns"
coredns_archive=$static_archive

# The provisioner of the default StorageClass (tests/cluster/local-path/).
# Its helper pods run the busybox image.
[[ -x $BIN/local-path-provisioner ]] ||
  cluster_fail "building the local-path image: no $BIN/local-path-provisioner (hack/build-upstream.sh builds it)"
[[ -n $busybox_image ]] ||
  cluster_fail "building the local-path image: its helper pods need the busybox image (package busybox-static)"
local_path_version=$(pin_version local-path github.com/rancher/local-path-provisioner)
[[ -n $local_path_version ]] ||
  cluster_fail "building the local-path image: no pin in tests/cluster/local-path/go.mod"
local_path_image=vireo.local/local-path-provisioner:$local_path_version
static_image "$local_path_image" "$BIN/local-path-provisioner"
local_path_archive=$static_archive
