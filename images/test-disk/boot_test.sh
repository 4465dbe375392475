#!/usr/bin/env bash
# Boot check of the Vireo test disk with qemu-system-x86_64 alone (TCG, no
# libvirt, no launcher): it proves the image does what README.md promises
# before the launcher's tests rely on it.
#   boot 1 (raw image, machine pc, cidata on an IDE cdrom): READY marker,
#     cloud-init meta-data and runcmd markers, a blank data disk formatted
#     and mounted, a typed command answers, DHCP and the web server, a file
#     written on the data disk and one on the boot disk, ACPI power button
#     (QEMU monitor system_powerdown) -> guest powers off -> QEMU exits 0 in time;
#   boot 2 (the qcow2, machine q35, cidata on a SATA/AHCI cdrom): the data
#     disk is mounted again and the file reads back (the host sees it too,
#     with mtools); the boot-disk write is gone (a fresh overlay, as the
#     launcher gives a containerDisk); the image files are unchanged.
# Ends with "test_disk: N passed, M failed"; exit status 0 only when M is 0.
#
#   images/test-disk/boot_test.sh [IMAGE]   (default: build.sh's output, built if needed)
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
boot_timeout=${VIREO_TEST_DISK_BOOT_TIMEOUT:-180}  # s to the READY marker (10 s idle, 45 s seen with 5x load)
poweroff_timeout=60                                 # s from power button to QEMU exit (1-2 s idle)

die() { echo "boot_test: error: $*" >&2; exit 2; }
for tool in qemu-system-x86_64 qemu-img xorriso mtype timeout; do
  command -v "$tool" >/dev/null || die "$tool not found (hack/install-deps.sh installs what this needs)"
done
image=${1:-$("$here/build.sh")} || die "build.sh failed"
[[ -f $image ]] || die "no image at $image"

work=$(mktemp -d /tmp/vireo-test-disk.XXXXXX)
qemu_pid="" reader_pids=()
cleanup() {
  [[ -z $qemu_pid ]] || kill "$qemu_pid" 2>/dev/null || true
  local p
  for p in "${reader_pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

passed=0 failed=0
pass() { passed=$((passed + 1)); echo "ok   - $*"; }
fail() { failed=$((failed + 1)); echo "FAIL - $*"; }
check() { # check "name" command...: one test result
  local name=$1; shift
  if "$@"; then pass "$name"; else fail "$name"; fi
}

# --- inputs: a writable overlay on the image, a blank data disk, a cidata ISO --
token=VIREO-PERSIST-$$-$RANDOM
# Boot 1 runs on the raw image, boot 2 on the qcow2 beside it (the one the
# containerDisk ships) when there is one; both through overlays, so the
# images themselves are never written.
qcow2=$(dirname "$image")/test-disk.qcow2
[[ -f $qcow2 ]] || qcow2=$image
format_of() { qemu-img info --output=json "$1" | sed -n 's/^ *"format": "\([a-z0-9]*\)".*/\1/p' | head -1; }
qemu-img create -q -f qcow2 -F "$(format_of "$image")" -b "$image" "$work/boot1.qcow2" ||
  die "qemu-img create of an overlay on $image failed"
qemu-img create -q -f qcow2 -F "$(format_of "$qcow2")" -b "$qcow2" "$work/boot2.qcow2" ||
  die "qemu-img create of an overlay on $qcow2 failed"
images_sum=$(cat "$image" "$qcow2" | sha256sum)
truncate -s 64M "$work/data.img"
mkdir "$work/seed"
cat >"$work/seed/meta-data" <<'EOF'
instance-id: iid-vireo-boot-test
local-hostname: vireo-boot-test
EOF
cat >"$work/seed/user-data" <<'EOF'
#cloud-config
runcmd:
  - echo VIREO-USERDATA-$((20 + 3))
  - [echo, VIREO-RUNCMD-LIST, ok]
EOF
xorriso -as mkisofs -quiet -o "$work/cidata.iso" -V cidata -J -r "$work/seed" 2>/dev/null ||
  die "xorriso could not make the cidata ISO"

# --- one guest: serial and monitor on FIFO pairs, read into log files ---------
console="" boot_seconds="" poweroff_seconds=""
start_guest() { # start_guest NAME MACHINE BOOT-OVERLAY
  local name=$1 machine=$2 boot=$3 p
  console=$work/$name.console
  for p in serial monitor; do
    rm -f "$work/$p.in" "$work/$p.out"
    mkfifo "$work/$p.in" "$work/$p.out"
  done
  : >"$console"
  timeout -k 5 300 qemu-system-x86_64 -accel tcg,tb-size=64 -machine "$machine" -m 256 -smp 1 \
    -nographic -no-reboot -nodefaults \
    -chardev pipe,id=ser0,path="$work/serial" -serial chardev:ser0 \
    -chardev pipe,id=mon0,path="$work/monitor" -mon chardev=mon0,mode=readline \
    -drive file="$boot",format=qcow2,if=none,id=boot -device virtio-blk-pci,drive=boot,bootindex=1 \
    -drive file="$work/data.img",format=raw,if=virtio \
    -drive file="$work/cidata.iso",format=raw,if=ide,media=cdrom \
    -nic user,model=virtio-net-pci \
    >"$work/$name.qemu.log" 2>&1 &
  qemu_pid=$!
  cat "$work/serial.out" >>"$console" &
  reader_pids+=($!)
  cat "$work/monitor.out" >"$work/$name.monitor" &
  reader_pids+=($!)
  exec 7<>"$work/serial.in" 8<>"$work/monitor.in" # read-write: never blocks on open
  guest_start=$EPOCHREALTIME
}
# wait_for TEXT SECONDS [FROM_BYTE]: true once TEXT is in the console log
# (after byte FROM_BYTE), false on timeout or when QEMU is gone.
wait_for() {
  local text=$1 deadline=$((SECONDS + $2)) from=${3:-0}
  while ((SECONDS < deadline)); do
    tail -c +$((from + 1)) "$console" | grep -a -q -F -- "$text" && return 0
    kill -0 "$qemu_pid" 2>/dev/null || { tail -c +$((from + 1)) "$console" | grep -a -q -F -- "$text"; return; }
    sleep 0.1
  done
  return 1
}
# type_and_expect "COMMAND" "ANSWER" SECONDS: types a line into the console,
# waits for ANSWER (which must not appear in COMMAND itself: it is echoed).
type_and_expect() {
  local from
  from=$(stat -c %s "$console")
  printf '%s\r' "$1" >&7
  wait_for "$2" "$3" "$from"
}
# power_off: ACPI power button through the monitor; true when QEMU exits 0 in time.
power_off() {
  echo system_powerdown >&8
  local pressed=$EPOCHREALTIME deadline=$((SECONDS + poweroff_timeout))
  while kill -0 "$qemu_pid" 2>/dev/null && ((SECONDS < deadline)); do sleep 0.1; done
  if kill -0 "$qemu_pid" 2>/dev/null; then
    echo "     QEMU still running ${poweroff_timeout} s after system_powerdown" >&2
    stop_guest
    return 1
  fi
  poweroff_seconds=$(echo "$EPOCHREALTIME - $pressed" | awk '{ printf "%.1f", $1 - $3 }')
  local rc=0
  wait "$qemu_pid" || rc=$?
  qemu_pid=""
  stop_guest
  ((rc == 0)) || echo "     QEMU exited $rc" >&2
  ((rc == 0))
}
stop_guest() { # kills QEMU if still there, stops the log readers
  if [[ -n $qemu_pid ]]; then kill "$qemu_pid" 2>/dev/null; wait "$qemu_pid" 2>/dev/null || true; qemu_pid=""; fi
  exec 7>&- 8>&-
  local p
  for p in "${reader_pids[@]}"; do kill "$p" 2>/dev/null; done
  reader_pids=()
}
elapsed() { echo "$EPOCHREALTIME - $guest_start" | awk '{ printf "%.1f", $1 - $3 }'; }
show_console() { # show_console NAME: the end of a guest's console and QEMU's own messages
  echo "---- last lines of the $1 console ----"
  tail -n 25 "$work/$1.console" | tr -d '\r' | sed 's/^/     /'
  [[ ! -s $work/$1.qemu.log ]] || { echo "---- QEMU said ----"; sed 's/^/     /' "$work/$1.qemu.log"; }
}

# --- boot 1 ------------------------------------------------------------------
start_guest boot1 pc "$work/boot1.qcow2"
if wait_for "VIREO-TEST-DISK READY" "$boot_timeout"; then
  boot_seconds=$(elapsed)
  pass "boot 1: READY marker after ${boot_seconds} s"
  check "boot 1: cloud-init meta-data" grep -a -q -F "VIREO-CIDATA: instance-id=iid-vireo-boot-test hostname=vireo-boot-test" "$console"
  check "boot 1: runcmd string item ran" grep -a -q -F "VIREO-USERDATA-23" "$console"
  check "boot 1: runcmd list item ran" grep -a -q -F "VIREO-RUNCMD-LIST ok" "$console"
  check "boot 1: blank data disk formatted and mounted" \
    grep -a -q -E "VIREO-DATA: /dev/vd[a-z] vfat \(formatted now\) mounted at /mnt/data " "$console"
  check "boot 1: a typed command answers" type_and_expect 'echo VIREO-ECHO-$((6 * 7))' "VIREO-ECHO-42" 60
  check "boot 1: hostname from meta-data" type_and_expect 'echo VIREO-HOST-$(hostname)-$((1 + 1))' "VIREO-HOST-vireo-boot-test-2" 60
  check "boot 1: DHCP lease on eth0 (VIREO-NET marker)" wait_for "VIREO-NET: eth0 10.0.2.15/24" 60
  check "boot 1: web server on port 80" \
    type_and_expect 'wget -q -O - http://127.0.0.1/ | tr A-Z a-z' "vireo-test-disk http ok" 60
  check "boot 1: write a file on the data disk" \
    type_and_expect "echo $token >/mnt/data/persist.txt && sync && echo VIREO-WROTE-\$((1 + 1))" "VIREO-WROTE-2" 60
  check "boot 1: boot partition mounted at /mnt/boot" grep -a -q -E "VIREO-BOOT: /dev/vd[a-z]1 mounted at /mnt/boot" "$console"
  check "boot 1: write a file on the boot disk (its overlay)" \
    type_and_expect "echo scratch >/mnt/boot/scratch.txt && echo VIREO-BOOTW-\$((1 + 1))" "VIREO-BOOTW-2" 60
  check "boot 1: ACPI power button -> QEMU exits 0 within ${poweroff_timeout} s" power_off
  check "boot 1: guest ran its shutdown (POWEROFF marker)" grep -a -q -F "VIREO-TEST-DISK POWEROFF" "$console"
else
  fail "boot 1: READY marker within ${boot_timeout} s"
fi
stop_guest
((failed == 0)) || show_console boot1

# --- boot 2: the file is still there ----------------------------------------
check "host: the file is on the data disk (mtools)" \
  bash -c "MTOOLS_SKIP_CHECK=1 mtype -i '$work/data.img' ::persist.txt | grep -q -F '$token'"
before=$failed
start_guest boot2 q35 "$work/boot2.qcow2"
if wait_for "VIREO-TEST-DISK READY" "$boot_timeout"; then
  pass "boot 2: READY marker after $(elapsed) s (q35, cidata on SATA, ${qcow2##*/})"
  check "boot 2: cidata found on the SATA cdrom" grep -a -q -F "VIREO-CIDATA: instance-id=iid-vireo-boot-test" "$console"
  check "boot 2: data disk mounted again, not reformatted" \
    grep -a -q -E "VIREO-DATA: /dev/vd[a-z] vfat \(existing\) mounted at /mnt/data " "$console"
  check "boot 2: the file reads back" type_and_expect "cat /mnt/data/persist.txt" "$token" 60
  check "boot 2: a fresh overlay has no trace of boot 1's write to the boot disk" \
    type_and_expect 'test -e /mnt/boot/scratch.txt || echo VIREO-NOSCRATCH-$((1 + 1))' "VIREO-NOSCRATCH-2" 60
  check "boot 2: ACPI power button -> QEMU exits 0 within ${poweroff_timeout} s" power_off
else
  fail "boot 2: READY marker within ${boot_timeout} s"
fi
stop_guest
((failed == before)) || show_console boot2

check "host: the images themselves were not written" test "$(cat "$image" "$qcow2" | sha256sum)" = "$images_sum"

echo "boot_test: QEMU start to READY ${boot_seconds:-?} s (boot 1, TCG), power button to QEMU exit ${poweroff_seconds:-?} s"
echo "test_disk: $passed passed, $failed failed"
((failed == 0))
