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
# (the tag). oci_files_archive reads the archive back after writing (every
# blob against its digest and size, the one file under /disk/ against the
# qcow2).
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
source "$oci_lib" # oci_files_archive

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

export SOURCE_DATE_EPOCH
SOURCE_DATE_EPOCH=$(stat -c %Y "$qcow2") # the disk's own time (fixed by build.sh): same disk, same bytes
# The layer: /disk/ (0555) and the qcow2 (0444), owned by 107:107 (the qemu
# user of KubeVirt's launcher), read back before it is kept.
digest=$(oci_files_archive "$archive" "$name" images/test-disk/containerdisk.sh \
  "Vireo test disk at /disk/test-disk.qcow2" disk/test-disk.qcow2="$qcow2") ||
  die "writing the OCI archive failed"

# containerdisk/: the unpacked layout older versions of this script kept.
rm -rf "$out/containerdisk"
echo "$key" >"$out/containerdisk.key"
log "$name: manifest $digest, $(($(stat -c %s "$archive") / 1024)) KiB"
echo "$archive"
