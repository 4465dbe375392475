# Shared by images/build.sh and images/check.sh (sourced, not run): logging,
# a throwaway sandbox to run a program chrooted in an image's root
# filesystem, and the OCI image archive writer (hack/lib/oci.sh).
# The caller sets `prog` (the name its messages start with).

log() { echo "$prog: $*" >&2; }
die() { echo "$prog: error: $*" >&2; exit 1; }

# The directory of every cache the images use.
images_cache_root() {
  echo "${VIREO_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/vireo}/images"
}

# The program runs in its own mount and pid namespaces (so every mount and
# every process it leaves, QEMU included, goes away with it), chrooted in
# ROOT, with what a container runtime would give it: /proc, a small /dev
# (no /dev/kvm), read-only /sys, tmpfs on /tmp and /run. ROOT itself is
# mounted read-only with `ro`, so a cached root filesystem stays as it is.
#
#   sandbox [--pidns PID] [--pid1] [--pidfile FILE] [--user UID:GID] ROOT ro|rw [--bind HOSTDIR DIR]... -- PROGRAM [ARG...]
#
# DIR is an absolute path inside ROOT that exists there, or lies under /run
# (created in the tmpfs). The environment is reset to PATH, HOME and TERM.
# PROGRAM runs under a bash that reaps what it orphans (libvirt daemonizes
# QEMU: a pid 1 that does not reap keeps it a zombie, and libvirt then waits
# 40 s for it to die), or as pid 1 itself with --pid1, as a container's
# command is. FILE gets the pid 1's pid as this machine sees it, for
# sandbox_enter and signals. With --pidns (first), the pid namespace is that
# of the running sandbox PID, as another container of a pod that shares one.
sandbox() {
  if [[ $1 == --pidns ]]; then
    local target=$2
    shift 2
    nsenter --target "$target" --pid -- unshare --mount --fork --propagation private -- \
      bash -euo pipefail -c "$sandbox_inner" sandbox "$@"
    return
  fi
  unshare --mount --pid --fork --propagation private -- \
    bash -euo pipefail -c "$sandbox_inner" sandbox "$@"
}
# shellcheck disable=SC2016 # expanded by the inner bash
sandbox_inner='
pid1="" pidfile="" user=""
while [[ $1 == --pid1 || $1 == --pidfile || $1 == --user ]]; do
  case $1 in
    --pid1) pid1=yes; shift; continue ;;
    --pidfile) pidfile=$2 ;;
    --user) user=$2 ;;
  esac
  shift 2
done
root=$1 mode=$2; shift 2
binds=()
while [[ $1 == --bind ]]; do binds+=("$2" "$3"); shift 3; done
[[ $1 == -- ]] && shift
mount --bind "$root" "$root"
if [[ $mode == ro ]]; then mount -o remount,bind,ro "$root"; fi
mount -t proc -o nosuid,nodev,noexec proc "$root/proc"
mount -t tmpfs -o mode=0755,nosuid,size=1m tmpfs "$root/dev"
for node in null zero full random urandom tty; do
  : >"$root/dev/$node"
  mount --bind "/dev/$node" "$root/dev/$node"
done
mkdir "$root/dev/pts" "$root/dev/shm"
mount -t devpts -o newinstance,ptmxmode=0666,mode=0620 devpts "$root/dev/pts"
ln -s pts/ptmx "$root/dev/ptmx"
mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs "$root/dev/shm"
mount --rbind /sys "$root/sys"
mount -o remount,bind,ro "$root/sys"
mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs "$root/tmp"
mount -t tmpfs -o mode=0755,nosuid,nodev tmpfs "$root/run"
for ((i = 0; i < ${#binds[@]}; i += 2)); do
  dir=${binds[i + 1]}
  [[ $dir == /run/* ]] && mkdir -p "$root$dir"
  [[ -d $root$dir && ! -L $root$dir ]] || { echo "sandbox: no directory $dir in $root" >&2; exit 1; }
  mount --bind "${binds[i]}" "$root$dir"
done
if [[ -n $pidfile ]]; then
  # /proc is still the outer one here: /proc/self/stat names this pid as seen outside.
  read -r outer _ </proc/self/stat
  echo "$outer" >"$pidfile"
fi
run=(env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root TERM=dumb
  chroot ${user:+--userspec="$user"} "$root" "$@")
if [[ -n $pid1 ]]; then exec "${run[@]}"; fi
"${run[@]}" <&0 &
child=$!
trap '"'"'kill -TERM $child 2>/dev/null'"'"' TERM INT
rc=0
wait "$child" || rc=$?
# A signal interrupts wait; wait again for the program itself.
while kill -0 "$child" 2>/dev/null; do wait "$child" || rc=$?; done
exit "$rc"
'

# Runs PROGRAM in a running sandbox (its mounts, its pids), as a container
# runtime's exec would; killed after SECONDS with --timeout.
#   sandbox_enter [--timeout SECONDS] [--user UID:GID] PID ROOT PROGRAM [ARG...]
sandbox_enter() {
  local limit=() user=()
  if [[ $1 == --timeout ]]; then limit=(timeout "$2"); shift 2; fi
  if [[ $1 == --user ]]; then user=(--userspec="$2"); shift 2; fi
  local pid=$1 root=$2; shift 2
  "${limit[@]}" nsenter -t "$pid" -m -p -- env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    HOME=/root TERM=dumb chroot "${user[@]}" "$root" "$@"
}

# The dynamic loader's view of PROGRAM (a path inside the sandbox's root):
# the libraries it loads. Fails, printing the list, if one is missing.
#   sandbox_ldd ROOT [--bind HOSTDIR DIR]... -- PROGRAM
sandbox_ldd() {
  local out
  out=$(sandbox "$@" 2>&1 | sed 's/^/  /') || true
  out=${out:-"  (the loader printed nothing)"}
  # ld.so --list prints "name => /path (address)" or "/path (address)".
  if grep -q 'not found' <<<"$out" || ! grep -q '=> /' <<<"$out"; then
    echo "$out" >&2
    return 1
  fi
}

# --- OCI image archives ------------------------------------------------------
# tar_tree, make_layer, oci_archive, oci_tree_archive: the tree's one writer.
# shellcheck source=hack/lib/oci.sh
source "$(dirname "${BASH_SOURCE[0]}")/../hack/lib/oci.sh"
