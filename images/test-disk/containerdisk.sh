#!/usr/bin/env bash
# Packs the Vireo test disk as a containerDisk image: an OCI image whose only
# layer holds the disk at /disk/test-disk.qcow2 (as KubeVirt containerDisks
# do: uid/gid 107, mode 0444), written with the tree's OCI archive writer
# (hack/lib/oci.sh; no Docker engine, no registry). build.sh makes the disk
# first (cached).
#
#   images/test-disk/containerdisk.sh [OUTDIR [IMAGE-NAME]]
#
# OUTDIR is build.sh's (default ${VIREO_CACHE_DIR:-~/.cache/vireo}/test-disk).
# IMAGE-NAME defaults to vireo.local/test-disk:v1 (not ":latest", which
# Kubernetes would always try to pull). It writes
#   OUTDIR/test-disk-containerdisk.tar   an OCI layout as a tar ("oci-archive"),
#                                        for `ctr -n k8s.io images import`
# and prints its path. The index carries the name in the annotations
# io.containerd.image.name (full name) and org.opencontainers.image.ref.name
# (the tag). The archive is read back after writing (every blob against its
# digest and size, the one file under /disk/ against the qcow2), and checked
# with `umoci stat` when umoci is installed.
set -euo pipefail
umask 022 # file modes in the images do not depend on the caller's umask

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cache_root=${VIREO_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/vireo}
out=${1:-$cache_root/test-disk}
name=${2:-vireo.local/test-disk:v1}
tag=${name##*:}
[[ $name == *:* && $tag != */* ]] || { echo "containerdisk: error: image name $name needs a :tag" >&2; exit 1; }

log() { echo "containerdisk: $*" >&2; }
die() { echo "containerdisk: error: $*" >&2; exit 1; }
oci_lib=$here/../../hack/lib/oci.sh
# shellcheck source=hack/lib/oci.sh
source "$oci_lib" # tar_tree, make_layer, oci_archive

raw=$("$here/build.sh" "$out") || die "build.sh failed"
qcow2=$(dirname "$raw")/test-disk.qcow2
[[ -f $qcow2 ]] || die "build.sh left no $qcow2"

archive=$out/test-disk-containerdisk.tar
key="$(sha256sum <"$qcow2" | cut -c1-64) $(cat "${BASH_SOURCE[0]}" "$oci_lib" | sha256sum | cut -c1-16) $name"
exec 9>"$out/.containerdisk.lock"
flock 9
if [[ -f $out/containerdisk.key && $(cat "$out/containerdisk.key") == "$key" && -f $archive ]]; then
  log "up to date"
  echo "$archive"
  exit 0
fi

work=$(mktemp -d "$out/.containerdisk.XXXXXX")
trap 'rm -rf "$work"' EXIT
export SOURCE_DATE_EPOCH
SOURCE_DATE_EPOCH=$(stat -c %Y "$qcow2") # the disk's own time (fixed by build.sh): same disk, same bytes

# The layer: /disk/ (0555) and the qcow2 (0444), owned by 107:107 (the qemu
# user of KubeVirt's launcher). The modes are tar's, so the disk can be a
# hard link to build.sh's file without changing that one.
mkdir -p "$work/rootfs/disk"
ln "$qcow2" "$work/rootfs/disk/test-disk.qcow2" 2>/dev/null || cp "$qcow2" "$work/rootfs/disk/test-disk.qcow2"
tar_tree "$work/rootfs" "$work/layer.tar" "$SOURCE_DATE_EPOCH" --owner=107 --group=107 --mode=a=rX ||
  die "tar of the layer failed"
listing=$(tar -tvf "$work/layer.tar") || die "the layer is not a readable tar"
[[ $(awk '$6 !~ /\/$/ { print $1, $2, $6 }' <<<"$listing") == "-r--r--r-- 107/107 disk/test-disk.qcow2" ]] ||
  die "the layer should hold exactly disk/test-disk.qcow2, -r--r--r-- 107/107; it holds: $listing"
make_layer "$work/layer.tar" "$work/layer" || die "compressing the layer failed"

created=$(date -u -d "@$SOURCE_DATE_EPOCH" +%Y-%m-%dT%H:%M:%SZ)
history="[{\"created\":\"$created\",\"created_by\":\"images/test-disk/containerdisk.sh\",\"comment\":\"Vireo test disk at /disk/test-disk.qcow2\"}]"
digest=$(oci_archive "$work/archive.tar" "$name" '{}' "$history" "$work/layer") || die "writing the OCI archive failed"

# --- read it back: every blob matches its digest and size, the disk is intact
mkdir "$work/check"
tar -C "$work/check" -xf "$work/archive.tar" || die "the archive is not a readable tar"
python3 - "$work/check" "$digest" <<'PY' || die "the archive's blobs do not match its index and manifest"
import hashlib, json, os, sys
root, digest = sys.argv[1], sys.argv[2]
def blob(d):
    with open(os.path.join(root, "blobs", "sha256", d.split(":")[1]), "rb") as f:
        data = f.read()
    assert "sha256:" + hashlib.sha256(data).hexdigest() == d, d
    return data
index = json.load(open(os.path.join(root, "index.json")))
assert index["manifests"][0]["digest"] == digest, index
manifest = json.loads(blob(digest))
for desc in [manifest["config"]] + manifest["layers"]:
    assert len(blob(desc["digest"])) == desc["size"], desc
PY
[[ $(tar -xzOf "$work/check/blobs/sha256/$(cat "$work/layer/digest")" disk/test-disk.qcow2 | sha256sum) == "$(sha256sum <"$qcow2")" ]] ||
  die "the qcow2 in the layer differs from $qcow2"

# containerdisk/: the unpacked layout older versions of this script kept.
rm -rf "$out/containerdisk" "$out/containerdisk.key"
mv -f "$work/archive.tar" "$archive"
echo "$key" >"$out/containerdisk.key"
log "$name: manifest $digest, layer $(($(cat "$work/layer/size") / 1024)) KiB"
echo "$archive"
