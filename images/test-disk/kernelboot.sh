#!/usr/bin/env bash
# Packs the Vireo test disk's kernel and initramfs as an image for
# firmware.kernelBoot: an OCI image whose only layer holds /boot/vmlinuz and
# /boot/initrd.img (uid/gid 107, mode 0444, as KubeVirt's kernel-boot demo
# images), written with the tree's OCI archive writer (hack/lib/oci.sh).
# build.sh makes them first (cached). The guest needs no disk: its
# initramfs is the whole system (README.md).
#
#   images/test-disk/kernelboot.sh [OUTDIR [IMAGE-NAME]]
#
# OUTDIR is build.sh's; IMAGE-NAME defaults to vireo.local/test-kernel-boot:v1.
# Writes OUTDIR/test-kernel-boot.tar (an OCI layout as a tar, for `ctr -n
# k8s.io images import`) and prints its path; oci_files_archive reads it
# back first.
set -euo pipefail
umask 022

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cache_root=${VIREO_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/vireo}
out=${1:-$cache_root/test-disk}
name=${2:-vireo.local/test-kernel-boot:v1}

log() { echo "kernelboot: $*" >&2; }
die() { echo "kernelboot: error: $*" >&2; exit 1; }
oci_lib=$here/../../hack/lib/oci.sh
# shellcheck source=hack/lib/oci.sh
source "$oci_lib" # oci_files_archive

raw=$("$here/build.sh" "$out") || die "build.sh failed"
built=$(dirname "$raw")
for f in vmlinuz initrd.img; do [[ -f $built/$f ]] || die "build.sh left no $built/$f"; done

archive=$out/test-kernel-boot.tar
key="$(cat "$built/vmlinuz" "$built/initrd.img" | sha256sum | cut -c1-64) $(cat "${BASH_SOURCE[0]}" "$oci_lib" | sha256sum | cut -c1-16) $name"
exec 9>"$out/.kernelboot.lock"
flock 9
if [[ -f $out/kernelboot.key && $(cat "$out/kernelboot.key") == "$key" && -f $archive ]]; then
  log "up to date"
  echo "$archive"
  exit 0
fi

export SOURCE_DATE_EPOCH
SOURCE_DATE_EPOCH=$(stat -c %Y "$built/vmlinuz")
digest=$(oci_files_archive "$archive" "$name" images/test-disk/kernelboot.sh \
  "the test disk's kernel and initramfs at /boot" \
  boot/vmlinuz="$built/vmlinuz" boot/initrd.img="$built/initrd.img") ||
  die "writing the OCI archive failed"
echo "$key" >"$out/kernelboot.key"
log "$name: manifest $digest, $(($(stat -c %s "$archive") / 1024)) KiB"
echo "$archive"
