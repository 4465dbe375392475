#!/usr/bin/env bash
# Builds a Debian 12 (bookworm) cloud disk image with Debian's own cloud-init,
# from Debian packages only (mmdebstrap; no prebuilt image is downloaded), for
# guests that need the real thing: NoCloud seeds, networkData, users and ssh
# keys. Legacy BIOS: syslinux on a small FAT partition written with mtools,
# the root filesystem ext4 made from a directory with `mkfs.ext4 -d`; no loop
# device, no mount. What is in it and how it boots: README.md.
#
#   images/debian-cloud/build.sh [OUTDIR]
#
# OUTDIR defaults to ${VIREO_CACHE_DIR:-~/.cache/vireo}/debian-cloud. It gets
#   debian-12.qcow2     the disk, qcow2 with zstd-compressed clusters (2 GiB virtual)
#   debian-12.packages  "package version" of every Debian package in it
#   debian-12.key       what the build is keyed by
#   mmdebstrap.log      mmdebstrap's output of the last build
# The path of debian-12.qcow2 is printed on stdout; progress goes to stderr.
# When debian-12.key matches (same inputs: this folder's files, the apt
# sources, and the host's candidate versions of the packages named in
# `packages`), nothing is rebuilt. Like images/build.sh's rootfs, the key
# follows the host's apt lists: `apt-get update` there to pick up new
# Debian updates. Environment: VIREO_DEBIAN_MIRROR,
# VIREO_DEBIAN_SECURITY_MIRROR (as images/build.sh).
#
# Runs as root (mmdebstrap --mode=root, chroot). Debian packages it needs on
# the build host: mmdebstrap, e2fsprogs (>= 1.43, mkfs.ext4 -d), mtools,
# syslinux, syslinux-common, qemu-utils.
set -euo pipefail
umask 022 # file modes in the image do not depend on the caller's umask

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
prog=debian-cloud
# shellcheck source=images/lib.sh
source "$here/../lib.sh"    # log, die
# shellcheck source=images/rootfs.sh
source "$here/../rootfs.sh" # rootfs_sources, rootfs_packages: the apt sources and list format images/ use
cache_root=${VIREO_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/vireo}
out=${1:-$cache_root/debian-cloud}
suite=bookworm
disk_mib=2048   # virtual size; cloud-init's growpart takes a bigger disk
boot_mib=64     # partition 1, FAT16, from 1 MiB: syslinux, kernel, initramfs
root_label=debian-root
root_uuid=5649524f-4445-4249-414e-313200000002 # fixed, so rebuilds differ only in content
start=$SECONDS

step() { # step "what" command...: runs the command, names the step if it fails
  local what=$1; shift
  "$@" || die "$what failed (command: $*)"
}

((EUID == 0)) || die "run as root (mmdebstrap --mode=root, chroot)"
for tool in mmdebstrap apt-cache dpkg-query mkfs.ext4 e2fsck mformat mcopy syslinux qemu-img sha256sum flock chroot; do
  command -v "$tool" >/dev/null || die "$tool not found (Debian packages: mmdebstrap e2fsprogs mtools syslinux syslinux-common qemu-utils)"
done
mbr_bin=/usr/lib/syslinux/mbr/mbr.bin
[[ -r $mbr_bin ]] || die "$mbr_bin not found (package syslinux-common)"

# --- the key: this folder's inputs, the sources, the package versions --------
installed_versions() { # "package version" of installed host packages
  dpkg-query -W -f='${Package} ${Version}\n' "$@" 2>/dev/null || die "not installed here: one of $*"
}
candidate_versions() { # "package version" of the candidates in the host's apt lists
  apt-cache policy "$@" 2>/dev/null | awk '/^[^ ]/ { sub(/:$/, ""); pkg = $0 } $1 == "Candidate:" { print pkg, $2 }'
}
mapfile -t packages < <(rootfs_packages "$here/packages")
((${#packages[@]})) || die "$here/packages names no package"
kernel_pkg=$(apt-cache depends linux-image-amd64 2>/dev/null | awk '$1 == "Depends:" && $2 ~ /^linux-image-/ { print $2; exit }')
[[ -n $kernel_pkg ]] || die "apt-cache does not know linux-image-amd64 (run apt-get update)"
versions=$(candidate_versions "${packages[@]}" "$kernel_pkg")
for p in "${packages[@]}" "$kernel_pkg"; do
  grep -q "^$p [^(]" <<<"$versions" || die "apt-cache has no candidate for $p (run apt-get update)"
done
key=$(
  cd "$here"
  echo "inputs $(find build.sh packages dpkg.cfg syslinux.cfg files -type f | LC_ALL=C sort | xargs sha256sum | sha256sum | cut -c1-16)"
  echo "suite $suite"
  rootfs_sources "$suite" | sed 's/^/source /'
  sed 's/^/package /' <<<"$versions"
  echo "mmdebstrap $(mmdebstrap --version | awk '{ print $2 }')"
  installed_versions e2fsprogs mtools syslinux syslinux-common qemu-utils | sed 's/^/host /'
)

mkdir -p "$out"
exec 9>"$out/.lock"
flock 9 # one build at a time per output directory
qcow2=$out/debian-12.qcow2
if [[ -f $out/debian-12.key && $(cat "$out/debian-12.key") == "$key" && -f $qcow2 ]]; then
  log "up to date in $out"
  echo "$qcow2"
  exit 0
fi
log "building in $out ($suite, $(grep "^package $kernel_pkg " <<<"$key" | cut -d' ' -f2-))"

work=$(mktemp -d "$out/.build.XXXXXX")
# mmdebstrap unmounts what it mounted in the tree, even when it fails; make
# sure nothing is left mounted below $work before removing it.
cleanup() {
  local m
  for m in $(awk -v w="$work/" 'index($2, w) == 1 { print $2 }' /proc/mounts | sort -r); do umount -l "$m" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT
root=$work/root

# --- the root filesystem tree --------------------------------------------------
# dpkg.cfg's path filters apply from the first package on (mmdebstrap also
# applies them when it extracts the Essential set); files/ goes in before any
# package is unpacked (setup hook), so the initramfs and cloud-init settings
# are there when their packages configure.
mapfile -t sources < <(rootfs_sources "$suite")
mmlog=$out/mmdebstrap.log
t0=$SECONDS
log "mmdebstrap $suite: ${packages[*]}"
if ! mmdebstrap --mode=root --variant=minbase --format=directory \
  --aptopt='APT::Install-Recommends "false"' --dpkgopt="$here/dpkg.cfg" \
  --include="$(IFS=,; echo "${packages[*]}")" \
  --setup-hook="cp -dR --no-preserve=ownership --remove-destination '$here/files/.' \"\$1/\"" \
  "$suite" "$root" "${sources[@]}" >"$mmlog" 2>&1; then
  tail -n 30 "$mmlog" >&2
  die "mmdebstrap failed (whole log: $mmlog)"
fi
log "mmdebstrap done in $((SECONDS - t0)) s"

# --- the guest's settings --------------------------------------------------------
# mmdebstrap installed dpkg.cfg as 99mmdebstrap; give it a name that says whose.
mv "$root/etc/dpkg/dpkg.cfg.d/99mmdebstrap" "$root/etc/dpkg/dpkg.cfg.d/vireo-minimal"
# The image was installed without Recommends; apt in the guest behaves as Debian's does.
rm "$root/etc/apt/apt.conf.d/99mmdebstrap"
# Networking: systemd-networkd, with what cloud-init renders from networkData
# (or its DHCP fallback); DNS through systemd-resolved.
step "enabling systemd-networkd" chroot "$root" systemctl enable --quiet systemd-networkd systemd-resolved
# Not for a VM without LVM: e2scrub_reap alone took 13 s of boot under TCG.
step "disabling e2scrub" chroot "$root" systemctl disable --quiet e2scrub_reap.service e2scrub_all.timer
# First-boot identity: a machine id, ssh host keys (cloud-init makes them) and
# cloud-init's state are the instance's own, never the image's.
rm -f "$root"/etc/ssh/ssh_host_*
: >"$root/etc/machine-id"
rm -rf "$root/var/lib/cloud"/* "$root/var/log"/*.log "$root/var/log/apt" "$root"/var/cache/debconf/*-old \
  "$root"/var/lib/dpkg/*-old "$root"/var/cache/apt/*.bin
chroot "$root" dpkg-query -W -f='${Package} ${Version}\n' | LC_ALL=C sort >"$work/debian-12.packages"

# The kernel and initramfs boot from the FAT partition; the root filesystem
# keeps no second copy (/boot keeps config and System.map).
vmlinuz=$(ls "$root"/boot/vmlinuz-*)
[[ $(wc -w <<<"$vmlinuz") == 1 && -f $vmlinuz ]] || die "expected one kernel in /boot, found: $vmlinuz"
kver=${vmlinuz##*/vmlinuz-}
[[ -f $root/boot/initrd.img-$kver ]] || die "no /boot/initrd.img-$kver (initramfs-tools did not run?)"
mv "$vmlinuz" "$work/vmlinuz"
mv "$root/boot/initrd.img-$kver" "$work/initrd.img"
rm -f "$root"/{vmlinuz,initrd.img}{,.old}
log "kernel $kver: vmlinuz $(($(stat -c %s "$work/vmlinuz") / 1024)) KiB, initramfs $(($(stat -c %s "$work/initrd.img") / 1024)) KiB," \
  "root tree $(du -sm "$root" | cut -f1) MiB"

# --- the disk: MBR (syslinux mbr.bin), FAT16 boot partition, ext4 root ---------
img=$work/debian-12.img
boot_start=2048 # sectors of 512 bytes
boot_sectors=$((boot_mib * 2048))
root_start=$((boot_start + boot_sectors))
root_sectors=$((disk_mib * 2048 - root_start))
step "creating the image file" truncate -s "${disk_mib}M" "$img"

# The root filesystem, written into the image at partition 2's offset. No
# discard: it would punch holes relative to the file, not to the offset.
t0=$SECONDS
step "mkfs.ext4 -d" mkfs.ext4 -q -F -L "$root_label" -U "$root_uuid" -d "$root" \
  -E "offset=$((root_start * 512)),nodiscard" "$img" "$((root_sectors / 2))k"
fsck_out=$(e2fsck -fn "$img?offset=$((root_start * 512))" 2>&1) || die "e2fsck of the new root filesystem: $fsck_out"
log "mkfs.ext4 -d and e2fsck done in $((SECONDS - t0)) s"
rm -rf "$root" # the image holds it now

step "writing the MBR boot code" dd if="$mbr_bin" of="$img" bs=440 count=1 conv=notrunc status=none
le32() { printf '\\x%02x\\x%02x\\x%02x\\x%02x' $(($1 & 255)) $(($1 >> 8 & 255)) $(($1 >> 16 & 255)) $(($1 >> 24 & 255)); }
# Partition entries, LBA only (CHS fields unused): 1 active FAT16 (LBA, 0x0e),
# 2 Linux (0x83). The disk signature is fixed (PARTUUID=56495245-0N).
{
  printf '\x45\x52\x49\x56\x00\x00'
  printf "\\x80\\xfe\\xff\\xff\\x0e\\xfe\\xff\\xff$(le32 $boot_start)$(le32 $boot_sectors)"
  printf "\\x00\\xfe\\xff\\xff\\x83\\xfe\\xff\\xff$(le32 $root_start)$(le32 $root_sectors)"
} | dd of="$img" bs=1 seek=440 conv=notrunc status=none || die "writing the partition table failed"
printf '\x55\xaa' | dd of="$img" bs=1 seek=510 conv=notrunc status=none || die "writing the MBR signature failed"

export MTOOLS_SKIP_CHECK=1 MTOOLSRC=/dev/null
fat="$img@@$((boot_start * 512))"
step "mformat" mformat -i "$fat" -T "$boot_sectors" -h 64 -s 32 -H "$boot_start" -v DEBIANBOOT -N 44424f4f ::
step "copying the kernel" mcopy -i "$fat" "$work/vmlinuz" ::vmlinuz
step "copying the initramfs" mcopy -i "$fat" "$work/initrd.img" ::initrd.img
step "copying syslinux.cfg" mcopy -i "$fat" "$here/syslinux.cfg" ::syslinux.cfg
step "syslinux --install" syslinux --install --offset $((boot_start * 512)) "$img"

t0=$SECONDS
# zstd clusters: a fifth of zlib's compression time, a little smaller, and
# quicker for QEMU to read (QEMU >= 5.1 reads them; the launcher has 7.2).
step "converting to qcow2" qemu-img convert -f raw -O qcow2 -c -o compression_type=zstd "$img" "$work/debian-12.qcow2"
rm -f "$img"
log "qcow2 done in $((SECONDS - t0)) s"

# --- publish: the key last, so an interrupted build is never taken as done ----
rm -f "$out/debian-12.key"
mv -f "$work/debian-12.qcow2" "$qcow2"
mv -f "$work/debian-12.packages" "$out/debian-12.packages"
echo "$key" >"$out/debian-12.key"
log "built in $((SECONDS - start)) s: $(($(stat -c %s "$qcow2") / 1048576)) MiB qcow2," \
  "$(wc -l <"$out/debian-12.packages") Debian packages"
echo "$qcow2"
