#!/usr/bin/env bash
# Packs a containerDisk of MIB MiB for bench/start_bench.py --image, to see
# what a large image costs a VM start: the test disk (raw,
# images/test-disk/build.sh) with random bytes after its end up to
# MIB MiB, at /disk/test-disk.img (the guest reads only its own partitions,
# and random bytes neither compress in the layer nor copy as holes). Written
# with the tree's OCI archive writer (hack/lib/oci.sh), as
# images/test-disk/containerdisk.sh writes the small one.
#
#   bench/big_containerdisk.sh MIB [OUTDIR]
#
# Prints the archive's path, OUTDIR/test-disk-<MIB>m-containerdisk.tar,
# image vireo.local/test-disk-<MIB>m:v1 (load it with
# hack/cluster-load-images.sh). Kept while the test disk is unchanged.
set -euo pipefail
umask 022

log() { echo "big_containerdisk: $*" >&2; }
die() { echo "big_containerdisk: error: $*" >&2; exit 1; }

mib=${1:-}
[[ $mib =~ ^[1-9][0-9]*$ ]] || die "usage: bench/big_containerdisk.sh MIB [OUTDIR]"
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cache_root=${VIREO_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/vireo}
out=${2:-$cache_root/test-disk}
# shellcheck source=hack/lib/oci.sh
source "$root/hack/lib/oci.sh" # tar_tree, make_layer, oci_archive

raw=$("$root/images/test-disk/build.sh" "$out") || die "images/test-disk/build.sh failed"
size=$(stat -c %s "$raw")
((mib * 1048576 > size)) || die "$mib MiB is not more than the test disk ($size bytes)"
name=vireo.local/test-disk-${mib}m:v1
archive=$out/test-disk-${mib}m-containerdisk.tar
key="$(sha256sum <"$raw" | cut -c1-64) $mib"
if [[ -f $archive && -f $archive.key && $(cat "$archive.key") == "$key" ]]; then
  log "up to date"
  echo "$archive"
  exit 0
fi

work=$(mktemp -d "$out/.big-containerdisk.XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/rootfs/disk"
cp "$raw" "$work/rootfs/disk/test-disk.img"
head -c $((mib * 1048576 - size)) /dev/urandom >>"$work/rootfs/disk/test-disk.img"
export SOURCE_DATE_EPOCH
SOURCE_DATE_EPOCH=$(stat -c %Y "$raw")
log "packing $mib MiB (gzip of random bytes: about a minute a GiB)"
tar_tree "$work/rootfs" "$work/layer.tar" "$SOURCE_DATE_EPOCH" --owner=107 --group=107 --mode=a=rX ||
  die "tar of the layer failed"
make_layer "$work/layer.tar" "$work/layer" || die "compressing the layer failed"
created=$(date -u -d "@$SOURCE_DATE_EPOCH" +%Y-%m-%dT%H:%M:%SZ)
history="[{\"created\":\"$created\",\"created_by\":\"bench/big_containerdisk.sh\",\"comment\":\"the test disk padded to $mib MiB\"}]"
oci_archive "$work/archive.tar" "$name" '{}' "$history" "$work/layer" >/dev/null ||
  die "writing the OCI archive failed"
mv -f "$work/archive.tar" "$archive"
echo "$key" >"$archive.key"
log "$name: layer $(($(cat "$work/layer/size") / 1048576)) MiB"
echo "$archive"
