#!/usr/bin/env bash
# Builds Vireo's container images without a registry or a container engine:
# compiles vireo-controller and vireo-launcher (release), puts each on a
# trimmed Debian root filesystem made from Debian packages (images/rootfs.sh,
# cached), and writes OCI image archives for `ctr -n k8s.io images import`.
# Also wraps the KVM device plugin hack/build-upstream.sh builds (static, the
# binary alone: images/device-plugin/) and packs the test disk as a
# containerDisk (images/test-disk/).
#
#   images/build.sh [--out DIR] [--refresh]
#
# DIR (default: the build directory's images/) gets
#   vireo-controller.tar   vireo.local/vireo-controller:<version>
#   vireo-launcher.tar     vireo.local/vireo-launcher:<version>
#   generic-device-plugin.tar  vireo.local/generic-device-plugin:<version>
#   test-disk.tar          vireo.local/test-disk:v1
# <version> is the project version in meson.build. images/check.sh checks
# the archives. Environment:
#   VIREO_IMAGE_BUILD_DIR  meson build directory (default build-images/)
#   VIREO_IMAGE_JOBS       ninja's -j (default 1: the machines are small)
#   CCACHE_DIR             as hack/test.sh (default ~/.cache/vireo/ccache)
#   VIREO_DEBIAN_MIRROR, VIREO_DEBIAN_SECURITY_MIRROR   apt mirrors
# Each image has two layers: the Debian rootfs (cached under
# ~/.cache/vireo/images/, keyed by the package list, the recipe and the
# libraries the binary needs) and the Vireo binary on top, so a rebuild after
# a code change only redoes the top layer. The key does not follow Debian's
# updates: --refresh rebuilds the rootfs from today's packages.
set -euo pipefail
umask 022 # file modes in the images do not depend on the caller's umask

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)
prog=images
# shellcheck source=images/lib.sh
source "$here/lib.sh"
# shellcheck source=images/rootfs.sh
source "$here/rootfs.sh"

usage() { sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed -e '$d' -e 's/^# \{0,1\}//'; }
out=""
while (($#)); do
  case $1 in
    --out) out=${2:?--out needs a directory}; shift 2 ;;
    --out=*) out=${1#--out=}; shift ;;
    --refresh) rootfs_refresh=1; shift ;;
    -h | --help) usage; exit 0 ;;
    *) die "unknown argument $1 (see --help)" ;;
  esac
done

# mmdebstrap's root mode, chroot and the sandbox's mounts need root.
((EUID == 0)) || die "run as root (mmdebstrap --mode=root, chroot, mounts in a namespace)"
for tool in meson ninja ccache g++ mmdebstrap readelf dpkg-deb ldconfig unshare chroot gzip sha256sum flock python3; do
  command -v "$tool" >/dev/null || die "$tool not found (hack/install-deps.sh installs what this needs)"
done
start=$SECONDS

# --- Vireo, release build, in its own build directory -----------------------
build=${VIREO_IMAGE_BUILD_DIR:-$repo/build-images}
[[ $build == /* ]] || build=$repo/$build
out=${out:-$build/images}
mkdir -p "$out"
out=$(cd "$out" && pwd)
export CCACHE_DIR=${CCACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/vireo/ccache}
export CCACHE_BASEDIR=$repo CCACHE_NOHASHDIR=true
# Release, with the project's -Werror as in every other build.
if [[ ! -f $build/build.ninja ]]; then
  CXX="ccache g++" meson setup --buildtype=release "$build" "$repo" >/dev/null
elif [[ $(meson introspect --buildoptions "$build" | python3 -c 'import json, sys
o = {x["name"]: x["value"] for x in json.load(sys.stdin)}
print(o["buildtype"], o["werror"])') != "release True" ]]; then
  meson configure "$build" -Dbuildtype=release -Dwerror=true >/dev/null
fi
ninja -C "$build" -j"${VIREO_IMAGE_JOBS:-1}" launcher/vireo-launcher controllers/vireo-controller >&2
version=$(meson introspect --projectinfo "$build" | python3 -c 'import json, sys; print(json.load(sys.stdin)["version"])')
[[ -n $version ]] || die "no project version in meson.build"
log "built Vireo $version ($((SECONDS - start)) s)"

path_env='PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'
work=$(mktemp -d "$out/.build.XXXXXX")
trap 'rm -rf "$work"' EXIT

rootfs_in_use

# build_image NAME PROGRAM USER: the archive $out/NAME.tar.
build_image() {
  local name=$1 program=$2 user=$3 t0=$SECONDS base top binary epoch created
  binary=$(basename "$program")
  # Times come from the binary, so an unchanged build gives the same image.
  epoch=$(stat -c %Y "$program")
  created=$(date -u -d "@$epoch" +%Y-%m-%dT%H:%M:%SZ)
  base=$(rootfs_base "$here/${name#vireo-}" "$program")
  top=$work/$name-top
  install -D -m 0755 "$program" "$top/usr/bin/$binary"

  # The binary on the image's libraries (before anything runs it).
  sandbox_ldd "$base/rootfs" ro --bind "$top" /mnt -- \
    /lib64/ld-linux-x86-64.so.2 --list "/mnt/usr/bin/$binary" ||
    die "$name: /usr/bin/$binary misses libraries in the image (add their packages to images/${name#vireo-}/packages)"
  sandbox "$base/rootfs" ro --bind "$top" /mnt -- "/mnt/usr/bin/$binary" --help >/dev/null ||
    die "$name: $binary --help fails in the image"

  if [[ $binary == vireo-launcher ]]; then
    # QEMU's capabilities as libvirt probes them in this image, so that a
    # launcher does not spend seconds probing at each VM start (caps_cache.h).
    # The sandbox has no /dev/kvm: this is the cache for TCG.
    sandbox "$base/rootfs" ro --bind "$top" /mnt -- "/mnt/usr/bin/$binary" warm-cache \
      --out /mnt/usr/lib/vireo/qemu-capabilities --log-level warn >&2 ||
      die "$name: vireo-launcher warm-cache failed in the image"
    compgen -G "$top/usr/lib/vireo/qemu-capabilities/tcg/*.xml" >/dev/null ||
      die "$name: warm-cache left no capabilities in usr/lib/vireo/qemu-capabilities/tcg"
    # libvirt wrote them 0600 as root; the launcher pod runs as uid 107.
    chmod -R a+rX "$top/usr/lib/vireo"
  fi

  tar_tree "$top" "$work/$name-top.tar" "$epoch" --owner=0 --group=0
  make_layer "$work/$name-top.tar" "$work/$name-top-layer"

  local config history digest
  config="{\"Entrypoint\":[\"/usr/bin/$binary\"],\"Env\":[\"$path_env\"],\"WorkingDir\":\"/\""
  [[ -z $user ]] || config+=",\"User\":\"$user\""
  config+=",\"Labels\":{\"org.opencontainers.image.title\":\"$name\",\"org.opencontainers.image.version\":\"$version\"}}"
  history="[{\"created\":\"$created\",\"created_by\":\"images/rootfs.sh\",\"comment\":\"Debian packages of images/${name#vireo-}/packages, trimmed to images/${name#vireo-}/keep\"},"
  history+="{\"created\":\"$created\",\"created_by\":\"images/build.sh\",\"comment\":\"$binary $version\"}]"
  digest=$(SOURCE_DATE_EPOCH=$epoch oci_archive "$out/$name.tar" "vireo.local/$name:$version" "$config" "$history" \
    "$base/layer" "$work/$name-top-layer")

  local rootfs_bytes top_bytes archive_bytes
  rootfs_bytes=$(cat "$base/rootfs-bytes")
  top_bytes=$(du -sb "$top" | cut -f1)
  archive_bytes=$(stat -c %s "$out/$name.tar")
  log "$name: vireo.local/$name:$version, manifest $digest"
  log "$name: $(( (rootfs_bytes + top_bytes) / 1000000 )) MB uncompressed (Debian $((rootfs_bytes / 1000000)) MB, $binary $((top_bytes / 1000000)) MB), archive $((archive_bytes / 1000000)) MB, $(wc -l <"$base/packages.txt") Debian packages ($((SECONDS - t0)) s)"
  printf '%s\t%s\t%s\t%s\n' "$name" "$version" "$((rootfs_bytes + top_bytes))" "$archive_bytes" >>"$work/sizes"
  cp "$base/packages.txt" "$out/$name.packages"
}

build_image vireo-controller "$build/controllers/vireo-controller" 65532:65532
# The launcher pod runs as 107 (libvirt-qemu in the image's files/etc/passwd;
# docs/launcher-pod.md); the image says so too for those who run it by hand.
build_image vireo-launcher "$build/launcher/vireo-launcher" 107:107

# build_static_image NAME PROGRAM UPSTREAM: the archive $out/NAME.tar holding
# one layer, the static PROGRAM as /usr/bin/<its name> (entrypoint); UPSTREAM
# (module@version) goes in the image's labels.
build_static_image() {
  local name=$1 program=$2 upstream=$3 t0=$SECONDS binary epoch created top
  binary=$(basename "$program")
  epoch=$(stat -c %Y "$program")
  created=$(date -u -d "@$epoch" +%Y-%m-%dT%H:%M:%SZ)
  ! readelf -l "$program" | grep -q INTERP || die "$name: $program is not static"
  "$program" --help >/dev/null 2>&1 || die "$name: $binary --help fails"
  top=$work/$name-top
  install -D -m 0755 "$program" "$top/usr/bin/$binary"
  tar_tree "$top" "$work/$name-top.tar" "$epoch" --owner=0 --group=0
  make_layer "$work/$name-top.tar" "$work/$name-top-layer"
  local config history digest archive_bytes top_bytes
  config="{\"Entrypoint\":[\"/usr/bin/$binary\"],\"Env\":[\"$path_env\"],\"WorkingDir\":\"/\""
  config+=",\"Labels\":{\"org.opencontainers.image.title\":\"$name\",\"org.opencontainers.image.version\":\"$version\",\"org.opencontainers.image.source\":\"$upstream\"}}"
  history="[{\"created\":\"$created\",\"created_by\":\"images/build.sh\",\"comment\":\"$upstream, built by hack/build-upstream.sh\"}]"
  digest=$(SOURCE_DATE_EPOCH=$epoch oci_archive "$out/$name.tar" "vireo.local/$name:$version" "$config" "$history" \
    "$work/$name-top-layer")
  top_bytes=$(du -sb "$top" | cut -f1)
  archive_bytes=$(stat -c %s "$out/$name.tar")
  log "$name: vireo.local/$name:$version ($upstream), manifest $digest"
  log "$name: $((top_bytes / 1000000)) MB uncompressed, archive $((archive_bytes / 1000000)) MB ($((SECONDS - t0)) s)"
  printf '%s\t%s\t%s\t%s\n' "$name" "$version" "$top_bytes" "$archive_bytes" >>"$work/sizes"
}

# The chart's KVM device plugin (images/device-plugin/README.md).
upstream_bin=$("$repo/hack/build-upstream.sh") || die "hack/build-upstream.sh failed"
plugin_pin=$(awk '$1=="require" && $2=="github.com/squat/generic-device-plugin" {print $2 "@" $3}' \
  "$repo/tests/cluster/device-plugin/go.mod")
[[ -n $plugin_pin ]] || die "no generic-device-plugin pin in tests/cluster/device-plugin/go.mod"
build_static_image generic-device-plugin "$upstream_bin/generic-device-plugin" "$plugin_pin"

# The test disk as a containerDisk, for check.sh and for a cluster.
disk=$("$repo/images/test-disk/containerdisk.sh") || die "images/test-disk/containerdisk.sh failed"
cp "$disk" "$out/test-disk.tar.part"
mv "$out/test-disk.tar.part" "$out/test-disk.tar"
printf '%s\t%s\t%s\t%s\n' test-disk v1 - "$(stat -c %s "$out/test-disk.tar")" >>"$work/sizes"

# name, version, uncompressed bytes, archive bytes: for README and check.sh.
mv "$work/sizes" "$out/sizes.tsv"
log "done in $((SECONDS - start)) s: $out/{vireo-controller,vireo-launcher,generic-device-plugin,test-disk}.tar"
