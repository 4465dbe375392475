#!/usr/bin/env bash
# Checks the image archives images/build.sh wrote, from the archives alone:
# each is unpacked with umoci (an independent reader of the OCI layout) and
# its programs run chrooted in the unpacked rootfs, in a sandbox that gives
# what a container runtime would (lib.sh: /proc, a small /dev without kvm,
# read-only /sys, tmpfs /tmp and /run).
#
#   images/check.sh [DIR]      DIR: build.sh's --out (default build-images/images)
#
# controller: the image config (entrypoint, user 65532), every library
#   found, `vireo-controller --help` as uid 65532.
# launcher: the config, /etc/passwd's libvirt-qemu, a static /bin/busybox,
#   `vireo-launcher --help`, `vireo-launcher warm-cache`, QEMU starting with
#   every NIC model's ROM, VGA + VNC and OVMF, then two guests as in a pod, as
#   the pod's uid and gid 107 (docs/launcher-pod.md): the test disk from test-disk.tar, copied the way
#   the pod's init containers do (busybox from the launcher image), booted
#   by `vireo-launcher run` under TCG with a cloud-init disk and a NIC, until
#   the guest prints VIREO-TEST-DISK READY; the readiness probe and the
#   console are used through the running sandbox, then SIGTERM must power the
#   guest off (exit 0). The second guest asks for EFI with secure boot: OVMF
#   must start and write to the serial console.
# containerd: a private one imports the three archives; runc runs the images.
# Ends with "check: N passed, M failed"; exit status 1 when something failed.
set -euo pipefail
umask 022

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)
prog=check
# shellcheck source=images/lib.sh
source "$here/lib.sh"

dir=${1:-${VIREO_IMAGE_BUILD_DIR:-$repo/build-images}/images}
[[ $dir == /* ]] || dir=$PWD/$dir
((EUID == 0)) || die "run as root (chroot, mounts in a namespace)"
for tool in umoci python3 unshare nsenter chroot tar readelf timeout; do
  command -v "$tool" >/dev/null || die "$tool not found (hack/install-deps.sh installs what this needs)"
done
for f in vireo-controller.tar vireo-launcher.tar test-disk.tar; do
  [[ -f $dir/$f ]] || die "$dir/$f is missing (run images/build.sh first)"
done

start=$SECONDS
work=$(mktemp -d /tmp/vireo-image-check.XXXXXX)
sandbox_pids=()
ctrd_pid=""
cleanup() {
  local pid
  if [[ -n $ctrd_pid ]]; then kill -TERM "$ctrd_pid" 2>/dev/null || true; wait "$ctrd_pid" 2>/dev/null || true; fi
  # Killing a sandbox's first process ends everything in it (QEMU too).
  for pid in "${sandbox_pids[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  # Only a containerd stopped mid-run leaves mounts here (its containers' rootfs).
  awk -v w="$work/" 'index($2, w) == 1 { print $2 }' /proc/mounts | sort -r | xargs -r umount -l
  if [[ -z ${VIREO_CHECK_KEEP:-} ]]; then rm -rf "$work"; else log "kept $work"; fi
}
trap cleanup EXIT

passed=0 failed=0
pass() { log "ok: $*"; passed=$((passed + 1)); }
fail() { log "FAIL: $*"; failed=$((failed + 1)); }
check() { # check WHAT COMMAND...: pass when COMMAND succeeds
  local what=$1; shift
  if "$@"; then pass "$what"; else fail "$what"; fi
}

# unpack NAME: $work/NAME/bundle/rootfs from $dir/NAME.tar; sets `config`
# to the image config's JSON file.
unpack() {
  local name=$1 layout=$work/$1/layout tag
  mkdir -p "$layout"
  tar -xf "$dir/$name.tar" -C "$layout"
  tag=$(python3 -c 'import json, sys
m = json.load(open(sys.argv[1]))["manifests"][0]
print(m["annotations"]["org.opencontainers.image.ref.name"])' "$layout/index.json")
  umoci unpack --image "$layout:$tag" "$work/$name/bundle" >/dev/null
  config=$(python3 -c 'import json, sys
d = sys.argv[1] + "/blobs/sha256/"
m = json.load(open(d + json.load(open(sys.argv[1] + "/index.json"))["manifests"][0]["digest"][7:]))
print(d + m["config"]["digest"][7:])' "$layout")
}

# config_field FILE KEY: the image config's config.KEY as JSON.
config_field() {
  python3 -c 'import json, sys; print(json.dumps(json.load(open(sys.argv[1]))["config"].get(sys.argv[2])))' "$1" "$2"
}

# wait_for FILE TEXT SECONDS [PID]: until FILE contains TEXT; fails early
# when PID (a sandbox) has ended.
wait_for() {
  local file=$1 text=$2 deadline=$((SECONDS + $3)) pid=${4:-}
  while ((SECONDS < deadline)); do
    if grep -qF -- "$text" "$file" 2>/dev/null; then return 0; fi
    if [[ -n $pid ]] && ! kill -0 "$pid" 2>/dev/null; then return 1; fi
    sleep 0.5
  done
  return 1
}

# --- controller --------------------------------------------------------------
log "vireo-controller.tar"
unpack vireo-controller
croot=$work/vireo-controller/bundle/rootfs
check "controller: entrypoint is /usr/bin/vireo-controller" \
  test "$(config_field "$config" Entrypoint)" == '["/usr/bin/vireo-controller"]'
check "controller: runs as 65532:65532" test "$(config_field "$config" User)" == '"65532:65532"'
check "controller: every library of vireo-controller is in the image" \
  sandbox_ldd "$croot" ro -- /lib64/ld-linux-x86-64.so.2 --list /usr/bin/vireo-controller
if out=$(sandbox --user 65532:65532 "$croot" ro -- /usr/bin/vireo-controller --help 2>&1) &&
  grep -q -i usage <<<"$out"; then
  pass "controller: vireo-controller --help as uid 65532"
else
  fail "controller: vireo-controller --help as uid 65532: $out"
fi

# --- launcher: the image -----------------------------------------------------
log "vireo-launcher.tar"
unpack vireo-launcher
lroot=$work/vireo-launcher/bundle/rootfs
lconfig=$config
check "launcher: entrypoint is /usr/bin/vireo-launcher" \
  test "$(config_field "$config" Entrypoint)" == '["/usr/bin/vireo-launcher"]'
check "launcher: libvirt-qemu user and group exist, 107 as the pod's runAsUser" \
  grep -q '^libvirt-qemu:x:107:' "$lroot/etc/passwd" "$lroot/etc/group"
check "launcher: runs as 107:107" test "$(config_field "$config" User)" == '"107:107"'
check "launcher: /bin/busybox is static" \
  bash -c '! readelf -l "$1" | grep -q INTERP' _ "$lroot/bin/busybox"
for program in vireo-launcher qemu-system-x86_64 qemu-img xorriso; do
  check "launcher: every library of $program is in the image" \
    sandbox_ldd "$lroot" ro -- /lib64/ld-linux-x86-64.so.2 --list "/usr/bin/$program"
done
check "launcher: vireo-launcher --help" sandbox "$lroot" ro -- vireo-launcher --help >/dev/null
# HTTPS imports verify against this bundle (OpenSSL's /usr/lib/ssl/cert.pem
# leads to it); extract runs no update-ca-certificates, rootfs.sh makes it.
check "launcher: the CA bundle holds Debian's certificates (over 100)" \
  bash -c '(($(grep -c "BEGIN CERTIFICATE" "$1/usr/lib/ssl/cert.pem") > 100))' _ "$lroot"
check "launcher: QEMU capabilities cache shipped (usr/lib/vireo/qemu-capabilities/tcg)" \
  compgen -G "$lroot/usr/lib/vireo/qemu-capabilities/tcg/*.xml" >/dev/null
check "launcher: the capabilities cache is readable by uid 107" \
  test -z "$(find "$lroot/usr/lib/vireo" ! -perm -o=r)"
t0=$SECONDS
if out=$(sandbox "$lroot" ro -- /bin/sh -c \
  'vireo-launcher warm-cache --out /tmp/caps --log-level warn && ls /tmp/caps/tcg/*.xml' 2>&1); then
  pass "launcher: vireo-launcher warm-cache ($((SECONDS - t0)) s)"
else
  fail "launcher: vireo-launcher warm-cache: $out"
fi
# QEMU loads option ROMs and firmware when it creates the devices, before
# running anything: a missing file fails here. `quit` then ends it.
qemu_args=(-machine q35,accel=tcg -nodefaults -display none -monitor stdio -S
  -vga std -vnc unix:/tmp/vnc.sock
  -drive if=pflash,format=raw,readonly=on,file=/usr/share/OVMF/OVMF_CODE_4M.fd)
i=0
for nic in virtio-net-pci e1000 e1000e rtl8139 ne2k_pci pcnet; do
  qemu_args+=(-netdev "user,id=n$i" -device "$nic,netdev=n$i")
  i=$((i + 1))
done
if out=$(echo quit | sandbox "$lroot" ro -- /bin/busybox timeout 60 qemu-system-x86_64 "${qemu_args[@]}" 2>&1); then
  pass "launcher: QEMU starts with every NIC model's ROM, VGA + VNC and OVMF"
else
  fail "launcher: QEMU with every NIC model, VGA + VNC and OVMF: $out"
fi

# --- launcher: guests as in a pod --------------------------------------------
log "test-disk.tar"
unpack test-disk
droot=$work/test-disk/bundle/rootfs
# What a container runtime makes in any container, even FROM scratch.
mkdir -p "$droot"/{dev,proc,sys,tmp,run}

# new_pod NAME VMI-JSON: the pod's /var/run/vireo (vmi, state, tools,
# container-disks/rootdisk) in $work/NAME, with the launcher image's busybox
# in tools as the launcher pod's first init container leaves it
# (controllers/reconcile/launcher_pod.cc). Everything runs as the pod's uid
# and gid, 107, which own the pod's volumes as fsGroup makes them. Sets `pod`.
pod_user=107:107
new_pod() {
  pod=$work/$1
  mkdir -p "$pod"/{vmi,state,tools,container-disks/rootdisk}
  printf '%s\n' "$2" >"$pod/vmi/vmi.json"
  chown -R "$pod_user" "$pod"
  sandbox --user "$pod_user" "$lroot" ro --bind "$pod" /run/vireo -- /bin/busybox cp /bin/busybox /var/run/vireo/tools/busybox
}

# The containerDisk container's script, exactly as the controller renders it
# (its golden pod, which a unit test keeps current).
serve_script=$(python3 -c '
import json, sys
pod = json.load(open(sys.argv[1]))
print(next(c["command"][3] for c in pod["spec"]["containers"] if c["name"].startswith("cd-")), end="")
' "$repo/controllers/reconcile/testdata/pod_cirros.json")

# serve_disk NAME: the pod's containerDisk container, in the background: the
# script in the unpacked test-disk image with the tools' busybox, in the
# launcher's pid namespace (the pod shares one), so the launcher reads the
# disk through its /proc/<pid>/root. Needs `launcher` (start_launcher).
serve_disk() {
  sandbox --pidns "$launcher" --user "$pod_user" "$droot" ro --bind "$pod" /run/vireo -- \
    /run/vireo/tools/busybox sh -c "$serve_script" serve-disk /disk /run/vireo/container-disks/rootdisk \
    >"$work/$1.serve.out" 2>&1 &
}

# start_launcher NAME: `vireo-launcher run` as the pod runs it, in the
# background; sets `launcher` (its pid outside, pid 1 inside) and `job`.
start_launcher() {
  local name=$1
  rm -f "$work/$name.pid"
  sandbox --pid1 --pidfile "$work/$name.pid" --user "$pod_user" "$lroot" ro --bind "$pod" /run/vireo -- \
    vireo-launcher run --vmi /var/run/vireo/vmi/vmi.json --state-dir /var/run/vireo/state \
    --emulation=auto --grace-period-seconds 30 >"$work/$name.out" 2>"$work/$name.err" &
  job=$!
  wait_for "$work/$name.pid" "" 20 "$job" && launcher=$(cat "$work/$name.pid") && [[ -n $launcher ]] ||
    die "the $name sandbox did not start: $(cat "$work/$name.err")"
  sandbox_pids+=("$launcher")
}

# stop_launcher: SIGTERM as the kubelet sends it; sets `rc`, the exit code
# (SIGKILL after 120 s).
stop_launcher() {
  local deadline=$((SECONDS + 120))
  kill -TERM "$launcher" 2>/dev/null || true
  while kill -0 "$job" 2>/dev/null && ((SECONDS < deadline)); do sleep 0.5; done
  if kill -0 "$job" 2>/dev/null; then kill -KILL "$launcher" 2>/dev/null || true; fi
  rc=0
  wait "$job" || rc=$?
}

diagnostics() { # the end of what the launcher and the guest said
  echo "--- launcher stderr (last 20 lines) ---"
  tail -n 20 "$work/$1.err" 2>/dev/null
  echo "--- guest console (last 20 lines) ---"
  tail -n 20 "$pod/state/console.log" 2>/dev/null
}

vmi_bios='{"apiVersion":"kubevirt.io/v1","kind":"VirtualMachineInstance",
"metadata":{"name":"image-check","namespace":"default","uid":"4a0c8a53-5d0e-4a54-9b7e-2f1c3d4e5f60"},
"spec":{"terminationGracePeriodSeconds":30,
 "domain":{"memory":{"guest":"256Mi"},"devices":{
  "disks":[{"name":"rootdisk","disk":{"bus":"virtio"}},{"name":"cloudinit","disk":{"bus":"virtio"}}],
  "interfaces":[{"name":"default","masquerade":{}}]}},
 "networks":[{"name":"default","pod":{}}],
 "volumes":[{"name":"rootdisk","containerDisk":{"image":"vireo.local/test-disk:v1"}},
  {"name":"cloudinit","cloudInitNoCloud":{"userData":"#cloud-config\nruncmd:\n  - echo IMAGE-CHECK-$((40+2))\n"}}]}}'

new_pod boot "$vmi_bios" || fail "launcher: the launcher image's busybox copied to the pod's tools"
t0=$SECONDS
start_launcher boot
serve_disk boot
if wait_for "$pod/container-disks/rootdisk/source" "" 30 "$job"; then
  pass "launcher: containerDisk served in place by the test-disk image with the launcher image's busybox: $(cat "$pod/container-disks/rootdisk/source")"
else
  fail "launcher: the containerDisk container did not serve the disk: $(cat "$work/boot.serve.out" "$pod/container-disks/rootdisk/error" 2>&1)"
fi
if wait_for "$pod/state/console.log" "VIREO-TEST-DISK READY" 300 "$job"; then
  pass "launcher: the test disk booted to VIREO-TEST-DISK READY under TCG ($((SECONDS - t0)) s)"
  check "launcher: cloud-init ran (xorriso's ISO read by the guest)" \
    wait_for "$pod/state/console.log" "IMAGE-CHECK-42" 30
  check "launcher: the guest got an address from QEMU's user network (virtio NIC)" \
    wait_for "$pod/state/console.log" "VIREO-NET: eth0" 60
  check "launcher: readiness probe passes (exec in the running sandbox)" \
    sandbox_enter --user "$pod_user" "$launcher" "$lroot" vireo-launcher probe --state-dir /var/run/vireo/state
  { sleep 1; echo 'echo VIREO-ECHO-$((6*7))'; sleep 8; } |
    sandbox_enter --timeout 30 --user "$pod_user" "$launcher" "$lroot" vireo-launcher console --state-dir /var/run/vireo/state \
      >"$work/console.out" 2>&1 || true
  check "launcher: vireo-launcher console answers (VIREO-ECHO-42)" grep -q VIREO-ECHO-42 "$work/console.out"
  if grep -q 'no QEMU capabilities cache' "$work/boot.err"; then
    fail "launcher: the image's capabilities cache was not used"
  else
    pass "launcher: the image's capabilities cache was used (no probe at start)"
  fi
  t0=$SECONDS
  stop_launcher
  if [[ $rc == 0 ]] && grep -q "VIREO-TEST-DISK POWEROFF" "$pod/state/console.log"; then
    pass "launcher: SIGTERM powered the guest off through ACPI, exit 0 ($((SECONDS - t0)) s)"
  else
    fail "launcher: SIGTERM: exit $rc"
    diagnostics boot >&2
  fi
else
  fail "launcher: the test disk did not reach VIREO-TEST-DISK READY in 300 s"
  diagnostics boot >&2
  stop_launcher
fi

# EFI with secure boot (OVMF's secboot code, Microsoft-enrolled variables,
# SMM on q35). The test disk only boots with a legacy BIOS, so this checks
# that the firmware starts and talks on the serial console.
vmi_efi=${vmi_bios/'"domain":{'/'"domain":{"firmware":{"bootloader":{"efi":{}}},'}
vmi_efi=${vmi_efi/'"name":"image-check"'/'"name":"image-check-efi"'}
new_pod efi "$vmi_efi"
t0=$SECONDS
start_launcher efi
serve_disk efi
# OVMF's boot manager (BdsDxe) reports each boot option on the console.
if wait_for "$pod/state/console.log" "BdsDxe" 240 "$job"; then
  pass "launcher: EFI + secure boot: OVMF runs and writes to the serial console ($((SECONDS - t0)) s)"
else
  fail "launcher: EFI + secure boot: nothing from OVMF on the serial console in 240 s"
  diagnostics efi >&2
fi
kill -KILL "$launcher" 2>/dev/null || true
wait "$job" 2>/dev/null || true

# --- the archives in containerd ----------------------------------------------
# A containerd of our own (its own root, state and socket under $work, no
# CRI), so the machine's containerd, if any, is not touched: the archives
# import with `ctr images import` into k8s.io, and runc runs the images.
if [[ ${VIREO_CHECK_CONTAINERD:-1} != 0 ]] && command -v containerd >/dev/null && command -v ctr >/dev/null; then
  log "containerd"
  ctrd=$work/ctrd
  mkdir -p "$ctrd"
  printf '%s\n' 'version = 2' "root = \"$ctrd/root\"" "state = \"$ctrd/state\"" \
    'disabled_plugins = ["io.containerd.grpc.v1.cri"]' \
    '[grpc]' "  address = \"$ctrd/containerd.sock\"" \
    '[ttrpc]' "  address = \"$ctrd/containerd-ttrpc.sock\"" >"$ctrd/config.toml"
  containerd --config "$ctrd/config.toml" >"$ctrd/log" 2>&1 &
  ctrd_pid=$!
  ctr=(ctr --address "$ctrd/containerd.sock" -n k8s.io)
  for _ in $(seq 40); do "${ctr[@]}" version >/dev/null 2>&1 && break; sleep 0.5; done
  for name in vireo-controller vireo-launcher test-disk; do
    check "containerd: ctr -n k8s.io images import $name.tar" \
      "${ctr[@]}" images import "$dir/$name.tar" >/dev/null
  done
  version=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["config"]["Labels"]["org.opencontainers.image.version"])' "$lconfig")
  listed=$("${ctr[@]}" images ls -q)
  check "containerd: named vireo.local/vireo-{controller,launcher}:$version and vireo.local/test-disk:v1" \
    bash -c 'grep -qx "vireo.local/vireo-controller:$2" <<<"$1" && grep -qx "vireo.local/vireo-launcher:$2" <<<"$1" &&
      grep -qx vireo.local/test-disk:v1 <<<"$1"' _ "$listed" "$version"
  # The launcher image's static busybox, lent to the controller image (which has no shell).
  out=$("${ctr[@]}" run --rm --mount "type=bind,src=$lroot/bin/busybox,dst=/busybox,options=rbind:ro" \
    "vireo.local/vireo-controller:$version" vireo-image-check-id /busybox id 2>&1) || true
  check "containerd: runc runs the controller image as uid 65532 ($out)" grep -q '^uid=65532' <<<"$out"
  out=$("${ctr[@]}" run --rm "vireo.local/vireo-controller:$version" vireo-image-check-help vireo-controller --help 2>&1) || true
  check "containerd: runc runs vireo-controller --help" grep -q -i usage <<<"$out"
  out=$("${ctr[@]}" run --rm "vireo.local/vireo-launcher:$version" vireo-image-check-help vireo-launcher --help 2>&1) || true
  check "containerd: runc runs vireo-launcher --help" grep -q -i usage <<<"$out"
  kill -TERM "$ctrd_pid" 2>/dev/null || true
  wait "$ctrd_pid" 2>/dev/null || true
  ctrd_pid=""
fi

log "archives: $(cd "$dir" && stat -c '%n %s' vireo-controller.tar vireo-launcher.tar test-disk.tar | tr '\n' ' ')"
echo "check: $passed passed, $failed failed ($((SECONDS - start)) s)"
((failed == 0))
