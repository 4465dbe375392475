#!/usr/bin/env bash
# Packs the Vireo test disk as a containerDisk image: an OCI image whose only
# layer holds the disk at /disk/test-disk.qcow2 (as KubeVirt containerDisks
# do: uid/gid 107, mode 0444), written by hand with tar, gzip and sha256sum
# (no Docker engine, no registry). build.sh makes the disk first (cached).
#
#   images/test-disk/containerdisk.sh [OUTDIR [IMAGE-NAME]]
#
# OUTDIR is build.sh's (default ${VIREO_CACHE_DIR:-~/.cache/vireo}/test-disk).
# IMAGE-NAME defaults to vireo.local/test-disk:v1 (not ":latest", which
# Kubernetes would always try to pull). It writes
#   OUTDIR/containerdisk/                the OCI image layout directory
#   OUTDIR/test-disk-containerdisk.tar   the same layout as a tar ("oci-archive"),
#                                        for `ctr -n k8s.io images import`
# and prints the tar's path. The index carries the name in the annotations
# io.containerd.image.name (full name) and org.opencontainers.image.ref.name
# (the tag). The layout is checked after writing (digests, sizes, the file
# under /disk/), and with `umoci stat` when umoci is installed.
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

raw=$("$here/build.sh" "$out") || die "build.sh failed"
qcow2=$(dirname "$raw")/test-disk.qcow2
[[ -f $qcow2 ]] || die "build.sh left no $qcow2"

layout=$out/containerdisk
archive=$out/test-disk-containerdisk.tar
key="$(sha256sum <"$qcow2" | cut -c1-64) $(sha256sum <"${BASH_SOURCE[0]}" | cut -c1-16) $name"
exec 9>"$out/.containerdisk.lock"
flock 9
if [[ -f $out/containerdisk.key && $(cat "$out/containerdisk.key") == "$key" && -f $archive && -d $layout ]]; then
  log "up to date"
  echo "$archive"
  exit 0
fi

work=$(mktemp -d "$out/.containerdisk.XXXXXX")
trap 'rm -rf "$work"' EXIT
epoch=$(stat -c %Y "$qcow2")   # the disk's own time stamp (fixed by build.sh)
created=$(date -u -d "@$epoch" +%Y-%m-%dT%H:%M:%SZ)
blobs=$work/layout/blobs/sha256
mkdir -p "$blobs" "$work/rootfs/disk"

# A blob is stored under its sha256; prints "DIGEST SIZE".
put_blob() {
  local digest size
  digest=$(sha256sum <"$1" | cut -c1-64)
  size=$(stat -c %s "$1")
  mv "$1" "$blobs/$digest"
  echo "$digest $size"
}

# The layer: /disk/ and the qcow2, owners and times fixed, gzip without name/time.
cp "$qcow2" "$work/rootfs/disk/test-disk.qcow2"
chmod 0555 "$work/rootfs/disk"
chmod 0444 "$work/rootfs/disk/test-disk.qcow2"
tar -C "$work/rootfs" --format=gnu --sort=name --numeric-owner --owner=107 --group=107 \
  --mtime="@$epoch" -cf "$work/layer.tar" disk || die "tar of the layer failed"
diff_id=$(sha256sum <"$work/layer.tar" | cut -c1-64)
gzip -n -6 <"$work/layer.tar" >"$work/layer.tar.gz" || die "gzip of the layer failed"
read -r layer_digest layer_size < <(put_blob "$work/layer.tar.gz")

cat >"$work/config.json" <<EOF
{"architecture":"amd64","os":"linux","created":"$created","config":{},"rootfs":{"type":"layers","diff_ids":["sha256:$diff_id"]},"history":[{"created":"$created","created_by":"images/test-disk/containerdisk.sh","comment":"Vireo test disk at /disk/test-disk.qcow2"}]}
EOF
read -r config_digest config_size < <(put_blob "$work/config.json")

cat >"$work/manifest.json" <<EOF
{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:$config_digest","size":$config_size},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"sha256:$layer_digest","size":$layer_size}]}
EOF
read -r manifest_digest manifest_size < <(put_blob "$work/manifest.json")

cat >"$work/layout/index.json" <<EOF
{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:$manifest_digest","size":$manifest_size,"platform":{"architecture":"amd64","os":"linux"},"annotations":{"io.containerd.image.name":"$name","org.opencontainers.image.ref.name":"$tag"}}]}
EOF
echo '{"imageLayoutVersion":"1.0.0"}' >"$work/layout/oci-layout"

# --- checks: every blob matches its digest and size; the layer holds /disk/ ---
check_blob() { # check_blob DIGEST SIZE WHAT
  local f=$work/layout/blobs/sha256/$1
  [[ -f $f ]] || die "$3 blob $1 missing"
  [[ $(sha256sum <"$f" | cut -c1-64) == "$1" ]] || die "$3 blob does not match its digest"
  [[ $(stat -c %s "$f") == "$2" ]] || die "$3 blob size differs from the manifest's"
}
check_blob "$manifest_digest" "$manifest_size" manifest
check_blob "$config_digest" "$config_size" config
check_blob "$layer_digest" "$layer_size" layer
listing=$(tar -tvzf "$blobs/$layer_digest") || die "the layer is not a readable tar.gz"
[[ $(awk '$6 !~ /\/$/ { print $6 }' <<<"$listing") == disk/test-disk.qcow2 ]] ||
  die "the layer should hold exactly one file, disk/test-disk.qcow2; it holds: $listing"
[[ $(tar -xzOf "$blobs/$layer_digest" disk/test-disk.qcow2 | sha256sum) == "$(sha256sum <"$qcow2")" ]] ||
  die "the qcow2 in the layer differs from $qcow2"
grep -q 'test-disk.qcow2$' <<<"$(awk '$6 == "disk/test-disk.qcow2" { print $1, $2, $6 }' <<<"$listing" | grep '^-r--r--r-- 107/107 ')" ||
  die "disk/test-disk.qcow2 in the layer should be -r--r--r-- 107/107: $listing"
python3 -m json.tool "$work/layout/index.json" >/dev/null 2>&1 || ! command -v python3 >/dev/null ||
  die "index.json is not valid JSON"
if command -v umoci >/dev/null; then
  umoci stat --image "$work/layout:$tag" >/dev/null || die "umoci stat does not accept the layout"
  log "umoci stat accepts the layout"
fi

# The layout as a tar, reproducibly (ctr import and oci-archive: take this).
tar -C "$work/layout" --format=gnu --sort=name --numeric-owner --owner=0 --group=0 \
  --mtime="@$epoch" -cf "$work/archive.tar" oci-layout index.json blobs || die "tar of the layout failed"

rm -rf "$layout" "$out/containerdisk.key"
mv "$work/layout" "$layout"
mv -f "$work/archive.tar" "$archive"
echo "$key" >"$out/containerdisk.key"
log "$name: manifest sha256:$manifest_digest, layer $((layer_size / 1024)) KiB; layout in $layout"
echo "$archive"
