#!/usr/bin/env bash
# Packs the Debian cloud image as a containerDisk: an OCI image whose only
# layer holds the disk at /disk/debian-12.qcow2 (as KubeVirt containerDisks
# do: uid/gid 107, mode 0444), written with the tree's OCI archive writer
# (hack/lib/oci.sh; no Docker engine, no registry). build.sh makes the disk first (cached).
#
#   images/debian-cloud/containerdisk.sh [OUTDIR [IMAGE-NAME]]
#
# OUTDIR is build.sh's (default ${VIREO_CACHE_DIR:-~/.cache/vireo}/debian-cloud).
# IMAGE-NAME defaults to vireo.local/debian-cloud:12 (not ":latest", which
# Kubernetes would always try to pull). It writes
#   OUTDIR/debian-cloud-containerdisk.tar   an OCI layout as a tar ("oci-archive"),
#                                           for `ctr -n k8s.io images import`
# and prints its path. The index names the image in the annotations
# io.containerd.image.name (full name) and org.opencontainers.image.ref.name
# (the tag). Nothing is redone when containerdisk.key matches (same qcow2,
# same scripts, same name).
set -euo pipefail
umask 022

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
prog=containerdisk
# shellcheck source=images/lib.sh
source "$here/../lib.sh" # log, die, oci_files_archive
cache_root=${VIREO_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/vireo}
out=${1:-$cache_root/debian-cloud}
name=${2:-vireo.local/debian-cloud:12}
tag=${name##*:}
[[ $name == *:* && $tag != */* ]] || die "image name $name needs a :tag"
for tool in tar gzip sha256sum flock python3; do
  command -v "$tool" >/dev/null || die "$tool not found"
done

qcow2=$("$here/build.sh" "$out") || die "build.sh failed"
[[ -f $qcow2 ]] || die "build.sh left no $qcow2"
disk_name=debian-12.qcow2
archive=$out/debian-cloud-containerdisk.tar

key="$(sha256sum <"$qcow2" | cut -c1-64) $(cat "${BASH_SOURCE[0]}" "$here/../lib.sh" "$here/../../hack/lib/oci.sh" | sha256sum | cut -c1-16) $name"
exec 9>"$out/.containerdisk.lock"
flock 9
if [[ -f $out/containerdisk.key && $(cat "$out/containerdisk.key") == "$key" && -f $archive ]]; then
  log "up to date"
  echo "$archive"
  exit 0
fi

export SOURCE_DATE_EPOCH
SOURCE_DATE_EPOCH=$(stat -c %Y "$qcow2") # the disk's own time: same disk, same bytes
# The layer: /disk/ (0555) and the qcow2 (0444), owned by 107:107 (the qemu
# user of KubeVirt's launcher), read back before it is kept.
rm -f "$out/containerdisk.key"
digest=$(oci_files_archive "$archive" "$name" images/debian-cloud/containerdisk.sh \
  "Debian 12 cloud image at /disk/$disk_name" "disk/$disk_name=$qcow2") ||
  die "writing the OCI archive failed"
echo "$key" >"$out/containerdisk.key"
log "$name: manifest $digest, $(($(stat -c %s "$archive") / 1048576)) MiB"
echo "$archive"
