#!/usr/bin/env bash
# Builds the Vireo test disk: a small legacy-BIOS bootable disk made only of
# Debian packages — Debian's kernel (linux-image-amd64's dependency, fetched
# with `apt-get download`, never installed on the host), a busybox-static
# initramfs with the kernel modules it needs, and syslinux on a FAT partition
# written with mtools (no loop mount, no root). What the guest does at boot
# (console markers, data disk, cloud-init subset, ACPI power-off): README.md.
#
#   images/test-disk/build.sh [OUTDIR]
#
# OUTDIR defaults to ${VIREO_CACHE_DIR:-~/.cache/vireo}/test-disk. It gets
#   test-disk.img     raw disk image, 32 MiB (the file to use as a PVC disk.img)
#   test-disk.qcow2   the same disk as compressed qcow2 (what the containerDisk ships)
#   vmlinuz, initrd.img, cmdline   the same kernel/initramfs, for a kernel boot
#   test-disk.key     what the build is keyed by
# The path of test-disk.img is printed on stdout; progress goes to stderr.
# When test-disk.key matches (same inputs: this folder's files and the
# versions of the Debian packages used) nothing is rebuilt. The output is
# reproducible: the same inputs give the same bytes.
set -euo pipefail
umask 022 # file modes in the images do not depend on the caller's umask

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cache_root=${VIREO_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/vireo}
out=${1:-$cache_root/test-disk}
disk_mib=32        # whole disk; the FAT partition starts at 1 MiB
start=$SECONDS

log() { echo "test-disk: $*" >&2; }
die() { echo "test-disk: error: $*" >&2; exit 1; }
step() { # step "what" command...: runs the command, names the step if it fails
  local what=$1; shift
  "$@" || die "$what failed (command: $*)"
}

for tool in apt-cache apt-get dpkg-deb dpkg-query cpio zstd mformat mcopy mdir syslinux qemu-img sha256sum flock; do
  command -v "$tool" >/dev/null || die "$tool not found (hack/install-deps.sh installs what this needs)"
done
mbr_bin=/usr/lib/syslinux/mbr/mbr.bin
[[ -r $mbr_bin ]] || die "$mbr_bin not found (package syslinux-common)"

# --- the key: this folder's inputs and the Debian package versions ----------
installed_version() {
  dpkg-query -W -f='${Version}' "$1" 2>/dev/null || die "Debian package $1 is not installed"
}
kernel_pkg=$(apt-cache depends linux-image-amd64 2>/dev/null | awk '$1 == "Depends:" && $2 ~ /^linux-image-/ { print $2; exit }')
[[ -n $kernel_pkg ]] || die "apt-cache does not know linux-image-amd64 (run apt-get update)"
kernel_ver=$(apt-cache policy "$kernel_pkg" | awk '$1 == "Candidate:" { print $2 }')
[[ -n $kernel_ver && $kernel_ver != "(none)" ]] || die "no candidate version of $kernel_pkg"

key=$(
  cd "$here"
  echo "inputs $(find build.sh guest -type f | LC_ALL=C sort | xargs sha256sum | sha256sum | cut -c1-16)"
  echo "kernel $kernel_pkg $kernel_ver"
  for p in busybox-static syslinux syslinux-common mtools cpio zstd qemu-utils; do
    echo "package $p $(installed_version "$p")"
  done
)

mkdir -p "$out"
exec 9>"$out/.lock"
flock 9 # one build at a time per output directory
if [[ -f $out/test-disk.key && $(cat "$out/test-disk.key") == "$key" && -f $out/test-disk.img && -f $out/test-disk.qcow2 ]]; then
  log "up to date in $out"
  echo "$out/test-disk.img"
  exit 0
fi
log "building in $out ($kernel_pkg $kernel_ver)"

work=$(mktemp -d "$out/.build.XXXXXX")
trap 'rm -rf "$work"' EXIT

# --- the kernel: Debian's package, downloaded and unpacked, not installed ----
deb_name="${kernel_pkg}_${kernel_ver//:/%3a}_amd64.deb"
if [[ -f /var/cache/apt/archives/$deb_name ]]; then
  deb=/var/cache/apt/archives/$deb_name
else
  (cd "$work" && apt-get download -q -o APT::Sandbox::User=root "$kernel_pkg=$kernel_ver" >&2) ||
    die "apt-get download $kernel_pkg=$kernel_ver failed"
  deb=$work/$deb_name
fi
# Like `dpkg-deb -x`, minus the big driver trees a VM disk never needs
# (graphics, media, sound, wireless, physical NICs, ...): half the writes.
mkdir "$work/kernel"
dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$work/kernel" --wildcards --no-wildcards-match-slash \
  --exclude='./usr' --exclude='./lib/modules/*/kernel/sound' \
  --exclude='./lib/modules/*/kernel/drivers/'{gpu,media,infiniband,iio,staging,net/wireless,net/ethernet} \
  --exclude='./lib/modules/*/kernel/net/'{wireless,mac80211,bluetooth} ||
  die "unpacking $deb failed"
vmlinuz=$(echo "$work"/kernel/boot/vmlinuz-*)
[[ -f $vmlinuz ]] || die "no boot/vmlinuz-* in $deb"
kver=${vmlinuz##*/vmlinuz-}
kmods=$work/kernel/lib/modules/$kver
# Every timestamp in the output is the kernel's own (fixed by its package).
export SOURCE_DATE_EPOCH
SOURCE_DATE_EPOCH=$(stat -c %Y "$vmlinuz")

# --- the initramfs tree --------------------------------------------------------
root=$work/initramfs
mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,etc/acpi/PWRF,dev,proc,sys,run,tmp,mnt,root,www}
busybox_bin=$(dpkg-query -L busybox-static | grep -m1 '/bin/busybox$') || die "busybox-static ships no bin/busybox"
cp "$busybox_bin" "$root/bin/busybox"
# One symlink per applet, where busybox says it belongs (bin/sh, sbin/modprobe, ...).
while read -r applet; do
  [[ $applet == bin/busybox || -e $root/$applet ]] && continue
  rel=$(dirname "$applet" | sed -E 's#[^/]+#..#g')
  ln -s "$rel/bin/busybox" "$root/$applet"
done < <("$busybox_bin" --list-full)
ln -s bin/busybox "$root/init" # the kernel runs /init: busybox init, see etc/inittab

install -m 0644 "$here"/guest/{inittab,profile,modules,runcmd.awk} "$root/etc/"
install -m 0755 "$here"/guest/{rcS,rcK,cidata.sh,udhcpc.script} "$root/etc/"
install -m 0755 "$here/guest/acpi/power-button" "$root/etc/acpi/PWRF/00000080"
printf 'root:x:0:0:root:/root:/bin/sh\n' >"$root/etc/passwd"
printf 'root:x:0:\n' >"$root/etc/group"
echo vireo-test-disk >"$root/etc/hostname"
ln -s /proc/mounts "$root/etc/mtab"
echo "VIREO-TEST-DISK HTTP OK" >"$root/www/index.html"

# Kernel modules: those in guest/modules and, transitively, what their
# .modinfo says they depend on; then modules.dep/alias for the subset (the
# guest's busybox modprobe reads them, and so does the kernel's own
# request_module through /sbin/modprobe).
declare -A mod_path=()
while read -r p; do
  n=${p##*/}; n=${n%.ko}; mod_path[${n//-/_}]=$p
done < <(cd "$kmods" && find kernel -name '*.ko')
declare -A builtin=()
while read -r p; do
  n=${p##*/}; n=${n%.ko}; builtin[${n//-/_}]=1
done < <(cat "$kmods/modules.builtin" 2>/dev/null)
declare -A wanted=()
queue=($(awk '$1 !~ /^#/ && NF >= 2 { print $2 }' "$here/guest/modules"))
while ((${#queue[@]})); do
  m=${queue[0]//-/_}; queue=("${queue[@]:1}")
  [[ -n ${wanted[$m]:-} || -n ${builtin[$m]:-} ]] && continue
  p=${mod_path[$m]:-}
  [[ -n $p ]] || die "kernel module $m not found in $kernel_pkg"
  wanted[$m]=$p
  deps=$(tr '\0' '\n' <"$kmods/$p" | sed -n 's/^depends=//p' | head -1)
  [[ -z $deps ]] || queue+=(${deps//,/ })
done
for m in "${!wanted[@]}"; do
  p=${wanted[$m]}
  install -D -m 0644 "$kmods/$p" "$root/lib/modules/$kver/$p"
done
cp "$kmods/modules.builtin" "$root/lib/modules/$kver/" 2>/dev/null || true
step "depmod for the initramfs" "$busybox_bin" depmod -b "$root" "$kver"
log "${#wanted[@]} kernel modules from $kver"

# Reproducible archive: sorted names, root-owned, one fixed time stamp.
find "$root" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +
(cd "$root" && find . -mindepth 1 | LC_ALL=C sort |
  cpio -o -H newc -R 0:0 --reproducible --quiet) >"$work/initrd.cpio" || die "cpio of the initramfs failed"
step "compressing the initramfs" zstd -q -9 -T1 "$work/initrd.cpio" -o "$work/initrd.img"
cp "$vmlinuz" "$work/vmlinuz"
cmdline=$(sed -n 's/^[[:space:]]*APPEND[[:space:]]*//p' "$here/guest/syslinux.cfg")
echo "$cmdline" >"$work/cmdline"

# --- the disk: MBR (syslinux mbr.bin) + one bootable FAT partition ------------
img=$work/test-disk.img
part_start=2048                                 # sectors of 512 bytes
part_sectors=$((disk_mib * 2048 - part_start))
step "creating the image file" truncate -s "${disk_mib}M" "$img"
step "writing the MBR boot code" dd if="$mbr_bin" of="$img" bs=440 count=1 conv=notrunc status=none
le32() { printf '\\x%02x\\x%02x\\x%02x\\x%02x' $(($1 & 255)) $(($1 >> 8 & 255)) $(($1 >> 16 & 255)) $(($1 >> 24 & 255)); }
# Partition 1: active (0x80), type 0x0e (FAT16, LBA), CHS fields unused (LBA only).
entry="\\x80\\xfe\\xff\\xff\\x0e\\xfe\\xff\\xff$(le32 $part_start)$(le32 $part_sectors)"
printf "$entry" | dd of="$img" bs=1 seek=446 conv=notrunc status=none || die "writing the partition table failed"
printf '\x55\xaa' | dd of="$img" bs=1 seek=510 conv=notrunc status=none || die "writing the MBR signature failed"

export MTOOLS_SKIP_CHECK=1 MTOOLSRC=/dev/null
fat="$img@@$((part_start * 512))"
# -N: a fixed volume serial (reproducible); -H: hidden sectors = partition start.
step "mformat" mformat -i "$fat" -T "$part_sectors" -h 64 -s 32 -H "$part_start" -v VIREOBOOT -N 56495245 ::
cp "$here/guest/syslinux.cfg" "$work/syslinux.cfg"
touch -d "@$SOURCE_DATE_EPOCH" "$work/vmlinuz" "$work/initrd.img" "$work/syslinux.cfg" # mcopy -m keeps these
step "copying the kernel" mcopy -i "$fat" -m "$work/vmlinuz" ::vmlinuz
step "copying the initramfs" mcopy -i "$fat" -m "$work/initrd.img" ::initrd
step "copying syslinux.cfg" mcopy -i "$fat" -m "$work/syslinux.cfg" ::syslinux.cfg
step "syslinux --install" syslinux --install --offset $((part_start * 512)) "$img"

step "converting to qcow2" qemu-img convert -f raw -O qcow2 -c "$img" "$work/test-disk.qcow2"

# --- publish: the key last, so an interrupted build is never taken as done ----
touch -d "@$SOURCE_DATE_EPOCH" "$work"/{test-disk.img,test-disk.qcow2,vmlinuz,initrd.img,cmdline}
rm -f "$out/test-disk.key"
for f in test-disk.img test-disk.qcow2 vmlinuz initrd.img cmdline; do
  mv -f "$work/$f" "$out/$f"
done
echo "$key" >"$out/test-disk.key"
log "built in $((SECONDS - start)) s: $(du -k --apparent-size "$out/test-disk.img" | cut -f1) KiB raw," \
  "$(du -k "$out/test-disk.qcow2" | cut -f1) KiB qcow2, initramfs $(du -k "$out/initrd.img" | cut -f1) KiB"
echo "$out/test-disk.img"
