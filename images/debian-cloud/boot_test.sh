#!/usr/bin/env bash
# Boot check of the Debian cloud image with qemu-system-x86_64 alone (TCG, no
# libvirt, no launcher), with a NoCloud seed written the way KubeVirt users
# write theirs: it proves that Debian's cloud-init takes the seed (meta-data,
# user-data, network-config v2 naming the NIC enp1s0) before Vireo's tests
# rely on it. One boot, q35, the virtio NIC on a PCIe root port (bus 1, so
# the guest calls it enp1s0, as under KubeVirt; the root port comes first on
# the command line, or a virtio disk takes its slot), the seed on a virtio disk:
#   the runcmd marker on the serial console; a login on the serial getty as
#   the user user-data made (password); there: the hostname from meta-data,
#   write_files, passwordless sudo, the networkd file cloud-init rendered
#   (Name=enp1s0), enp1s0 routable with QEMU's DHCP address 10.0.2.15,
#   cloud-init's status; ssh with the user's key (when ssh is installed here,
#   through a QEMU port forward); the ACPI power button (QEMU monitor
#   system_powerdown, what libvirt's shutdown sends) -> QEMU exits 0; the
#   image itself unchanged (the guest ran on an overlay).
# Prints timings (QEMU start -> kernel, login prompt, marker; power-off) and
# ends with "debian_cloud: N passed, M failed"; exit status 0 only when M is 0.
#
#   images/debian-cloud/boot_test.sh [QCOW2]   (default: build.sh's output, built if needed)
#
# Environment: VIREO_DEBIAN_CLOUD_BOOT_TIMEOUT (s to the marker, default 300).
# Host tools: qemu-system-x86_64, qemu-img, xorriso; ssh and ssh-keygen
# (openssh-client) for the ssh check, skipped without them.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
boot_timeout=${VIREO_DEBIAN_CLOUD_BOOT_TIMEOUT:-300} # s to the marker (about 60 s with a load of 3 on 2 cores)
poweroff_timeout=90                                  # s from power button to QEMU exit (about 3 s)
marker=VIREO-CLOUD-INIT-DONE
user=vireo password=vireo-boot-test hostname=vireo-debian-cloud

die() { echo "boot_test: error: $*" >&2; exit 2; }
for tool in qemu-system-x86_64 qemu-img xorriso timeout python3; do
  command -v "$tool" >/dev/null || die "$tool not found (hack/install-deps.sh installs what this needs)"
done
image=${1:-$("$here/build.sh")} || die "build.sh failed"
[[ -f $image ]] || die "no image at $image"

work=$(mktemp -d /tmp/vireo-debian-cloud.XXXXXX)
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

# --- inputs: an overlay on the image, an ssh key, the NoCloud seed ------------
qemu-img create -q -f qcow2 -F qcow2 -b "$image" "$work/boot.qcow2" || die "qemu-img create of an overlay on $image failed"
image_sum=$(sha256sum <"$image")
ssh_ok=""
if command -v ssh >/dev/null && command -v ssh-keygen >/dev/null; then
  ssh-keygen -q -t ed25519 -N '' -C vireo-boot-test -f "$work/id_ed25519" && ssh_ok=yes
fi
ssh_key=$(cat "$work/id_ed25519.pub" 2>/dev/null || echo "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIPlaceholderKeyNoSshKeygenOnThisHostXXXXXX vireo-boot-test")
ssh_port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')

mkdir "$work/seed"
cat >"$work/seed/meta-data" <<EOF
instance-id: iid-vireo-debian-cloud-$$
local-hostname: $hostname
EOF
cat >"$work/seed/user-data" <<EOF
#cloud-config
users:
  - name: $user
    shell: /bin/bash
    sudo: ALL=(ALL) NOPASSWD:ALL
    lock_passwd: false
    plain_text_passwd: $password
    ssh_authorized_keys:
      - $ssh_key
write_files:
  - path: /etc/vireo-boot-test.txt
    content: |
      VIREO-WRITE-FILES-OK
runcmd:
  - echo $marker >/dev/ttyS0
EOF
# As KubeVirt users write networkData: the first NIC, on a PCIe root port.
cat >"$work/seed/network-config" <<'EOF'
version: 2
ethernets:
  enp1s0:
    dhcp4: true
EOF
xorriso -as mkisofs -quiet -o "$work/cidata.iso" -volid cidata -joliet -rock "$work/seed" 2>/dev/null ||
  die "xorriso could not make the cidata ISO"

# --- the guest: serial and monitor on FIFO pairs, read into log files ---------
console=$work/console.log
for p in serial monitor; do mkfifo "$work/$p.in" "$work/$p.out"; done
: >"$console"
timeout -k 5 900 qemu-system-x86_64 -machine q35 -accel tcg -cpu max -m 1024 -nographic -no-reboot \
  -chardev pipe,id=ser0,path="$work/serial" -serial chardev:ser0 \
  -chardev pipe,id=mon0,path="$work/monitor" -mon chardev=mon0,mode=readline \
  -device pcie-root-port,id=rp1,bus=pcie.0,chassis=1,addr=0x2 \
  -netdev user,id=n0,hostfwd=tcp:127.0.0.1:"$ssh_port"-:22 -device virtio-net-pci,netdev=n0,bus=rp1,addr=0x0 \
  -drive file="$work/boot.qcow2",format=qcow2,if=none,id=disk0 -device virtio-blk-pci,drive=disk0,bootindex=1 \
  -drive file="$work/cidata.iso",format=raw,if=none,id=cidata,readonly=on -device virtio-blk-pci,drive=cidata \
  </dev/null >"$work/qemu.log" 2>&1 &
qemu_pid=$!
guest_start=$EPOCHREALTIME
cat "$work/serial.out" >>"$console" &
reader_pids+=($!)
cat "$work/monitor.out" >"$work/monitor.log" &
reader_pids+=($!)
exec 7<>"$work/serial.in" 8<>"$work/monitor.in" # read-write: never blocks on open

# wait_for TEXT SECONDS [FROM_BYTE]: true once TEXT is in the console log
# (after byte FROM_BYTE), false on timeout or when QEMU is gone.
wait_for() {
  local text=$1 deadline=$((SECONDS + $2)) from=${3:-0}
  while ((SECONDS < deadline)); do
    tail -c +$((from + 1)) "$console" | grep -a -q -F -- "$text" && return 0
    kill -0 "$qemu_pid" 2>/dev/null || { tail -c +$((from + 1)) "$console" | grep -a -q -F -- "$text"; return; }
    sleep 0.2
  done
  return 1
}
# type_and_expect "LINE" "ANSWER" SECONDS: types a line into the console,
# waits for ANSWER (which must not appear in LINE itself: it is echoed).
type_and_expect() {
  local from
  from=$(stat -c %s "$console")
  printf '%s\r' "$1" >&7
  wait_for "$2" "$3" "$from"
}
elapsed() { echo "$EPOCHREALTIME $guest_start" | awk '{ printf "%.1f", $1 - $2 }'; }
seen_at=() # what was seen when, for the timings line
note() { seen_at+=("$1 $(elapsed) s"); }

# --- boot to the marker --------------------------------------------------------
if wait_for "Linux version" 120; then note "kernel"; fi
if wait_for "$marker" "$boot_timeout"; then
  marker_seconds=$(elapsed)
  note "marker"
  pass "runcmd marker $marker after $marker_seconds s"
  check "cloud-init used the NoCloud seed" wait_for "Datasource DataSourceNoCloud [seed=/dev/vd" 60
  # The getty's prompt went by during cloud-init's output; ask for a fresh one.
  if type_and_expect "" "$hostname login:" 60; then
    note "login prompt"
    pass "serial getty on ttyS0 offers a login, with the hostname from meta-data"
    from=$(stat -c %s "$console")
    printf '%s\r' "$user" >&7
    if wait_for "Password:" 30 "$from"; then
      from=$(stat -c %s "$console")
      printf '%s\r' "$password" >&7
      # login discards what is typed before the shell runs: wait for its prompt.
      wait_for "$user@$hostname:" 60 "$from" || true
    fi
    check "login as $user on the serial console (password from user-data)" \
      type_and_expect 'echo VIREO-LOGIN-$(id -un)-$((20 + 1))' "VIREO-LOGIN-$user-21" 60
    check "hostname is $hostname" \
      type_and_expect 'echo VIREO-HOST-$(hostname)-$((1 + 1))' "VIREO-HOST-$hostname-2" 30
    check "write_files wrote /etc/vireo-boot-test.txt" \
      type_and_expect 'cat /etc/vireo-boot-test.txt' "VIREO-WRITE-FILES-OK" 30
    check "passwordless sudo" \
      type_and_expect 'sudo -n id -u | sed "s/^/VIREO-SUDO-UID-/"' "VIREO-SUDO-UID-0" 30
    check "cloud-init rendered networkData for enp1s0 (10-cloud-init-enp1s0.network, Name=enp1s0)" \
      type_and_expect 'sed -n "s/^Name=/VIREO-RENDERED-/p" /etc/systemd/network/10-cloud-init-enp1s0.network' \
      "VIREO-RENDERED-enp1s0" 30
    check "enp1s0 exists and networkd configured it (routable, configured)" \
      type_and_expect 'networkctl list --no-pager --no-legend enp1s0 | awk "{ print \"VIREO-LINK-\" \$2 \"-\" \$4 \"-\" \$5 }"' \
      "VIREO-LINK-enp1s0-routable-configured" 30
    check "enp1s0 has QEMU's DHCP address 10.0.2.15/24" \
      type_and_expect 'ip -4 -o addr show dev enp1s0 | awk "{ print \"VIREO-ADDR-\" \$4 }"' "VIREO-ADDR-10.0.2.15/24" 30
    check "cloud-init status: done" \
      type_and_expect 'cloud-init status --wait | sed "s/^/VIREO-CLOUD-INIT-/"' "VIREO-CLOUD-INIT-status: done" 120
    type_and_expect 'exit' "login:" 30 >/dev/null || true
  else
    fail "serial getty on ttyS0 offers a login ($hostname login:)"
  fi
  if [[ -n $ssh_ok ]]; then
    ssh_check() {
      local deadline=$((SECONDS + 60)) out
      while ((SECONDS < deadline)); do
        out=$(timeout 30 ssh -n -i "$work/id_ed25519" -p "$ssh_port" -o BatchMode=yes -o ConnectTimeout=10 \
          -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR \
          "$user@127.0.0.1" 'echo VIREO-SSH-$(id -un)-$(sudo -n id -un)' 2>&1) && [[ $out == *VIREO-SSH-$user-root* ]] && return 0
        sleep 2
      done
      echo "     ssh said: $out" >&2
      return 1
    }
    check "ssh $user@guest with the key from user-data, then sudo" ssh_check
  else
    echo "skip - ssh (no ssh/ssh-keygen on this host)"
  fi

  # ACPI power button, as libvirt's shutdown: systemd powers off, QEMU exits 0.
  power_off() {
    echo system_powerdown >&8
    local pressed=$EPOCHREALTIME deadline=$((SECONDS + poweroff_timeout)) rc=0
    while kill -0 "$qemu_pid" 2>/dev/null && ((SECONDS < deadline)); do sleep 0.2; done
    if kill -0 "$qemu_pid" 2>/dev/null; then
      echo "     QEMU still running ${poweroff_timeout} s after system_powerdown" >&2
      return 1
    fi
    poweroff_seconds=$(echo "$EPOCHREALTIME $pressed" | awk '{ printf "%.1f", $1 - $2 }')
    wait "$qemu_pid" || rc=$?
    qemu_pid=""
    ((rc == 0)) || echo "     QEMU exited $rc" >&2
    ((rc == 0))
  }
  check "ACPI power button -> guest powers off -> QEMU exits 0 within ${poweroff_timeout} s" power_off
  check "the guest shut down cleanly (reboot: Power down)" grep -a -q -F "reboot: Power down" "$console"
else
  fail "runcmd marker $marker within $boot_timeout s"
fi
if [[ -n $qemu_pid ]]; then kill "$qemu_pid" 2>/dev/null || true; wait "$qemu_pid" 2>/dev/null || true; qemu_pid=""; fi
check "the image itself was not written" test "$(sha256sum <"$image")" = "$image_sum"

if ((failed)); then
  echo "---- last lines of the console ----"
  tail -n 40 "$console" | tr -d '\r' | sed -e 's/\x1b\[[0-9;]*m//g' -e 's/^/     /'
  [[ ! -s $work/qemu.log ]] || { echo "---- QEMU said ----"; sed 's/^/     /' "$work/qemu.log"; }
fi
timings=$(printf '%s, ' "${seen_at[@]}")
echo "boot_test: from QEMU start: ${timings%, }; power button to QEMU exit ${poweroff_seconds:-?} s (TCG, load $(cut -d' ' -f1 /proc/loadavg))"
echo "debian_cloud: $passed passed, $failed failed"
((failed == 0))
