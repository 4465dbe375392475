# Shared by images/build.sh and images/check.sh (sourced, not run): logging,
# a throwaway sandbox to run a program chrooted in an image's root
# filesystem, and writing an OCI image archive by hand.
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
#   sandbox [--pid1] [--pidfile FILE] [--user UID:GID] ROOT ro|rw [--bind HOSTDIR DIR]... -- PROGRAM [ARG...]
#
# DIR is an absolute path inside ROOT that exists there, or lies under /run
# (created in the tmpfs). The environment is reset to PATH, HOME and TERM.
# PROGRAM runs under a bash that reaps what it orphans (libvirt daemonizes
# QEMU: a pid 1 that does not reap keeps it a zombie, and libvirt then waits
# 40 s for it to die), or as pid 1 itself with --pid1, as a container's
# command is. FILE gets the pid 1's pid as this machine sees it, for
# sandbox_enter and signals.
sandbox() {
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
# A layer is a directory holding layer.tar.gz and the files `digest` (sha256
# of layer.tar.gz), `diff_id` (sha256 of the uncompressed tar) and `size`.

# Writes the layer files for a tar: make_layer TAR LAYERDIR (TAR is removed).
make_layer() {
  local tar=$1 dir=$2
  mkdir -p "$dir"
  sha256sum <"$tar" | cut -c1-64 >"$dir/diff_id"
  gzip -n -6 <"$tar" >"$dir/layer.tar.gz.part"
  rm -f "$tar"
  sha256sum <"$dir/layer.tar.gz.part" | cut -c1-64 >"$dir/digest"
  stat -c %s "$dir/layer.tar.gz.part" >"$dir/size"
  mv "$dir/layer.tar.gz.part" "$dir/layer.tar.gz"
}

# Tars a directory tree as a layer: tar_tree ROOT TAR EPOCH [tar options].
# Entries are sorted and their times clamped to EPOCH, so the same files give
# the same bytes.
tar_tree() {
  local root=$1 tar=$2 epoch=$3; shift 3
  local entries=()
  mapfile -t entries < <(cd "$root" && ls -A | LC_ALL=C sort)
  tar -C "$root" --format=gnu --sort=name --numeric-owner --mtime="@$epoch" --clamp-mtime \
    "$@" -cf "$tar" -- "${entries[@]}"
}

# Writes an OCI image layout as a tar ("oci-archive"), for
# `ctr -n k8s.io images import`, named by the index annotations
# io.containerd.image.name and org.opencontainers.image.ref.name.
#
#   oci_archive ARCHIVE NAME:TAG CONFIG-JSON HISTORY-JSON LAYERDIR...
#
# CONFIG-JSON is the image config's "config" object (entrypoint, user, ...);
# HISTORY-JSON a JSON array with one entry per layer.
oci_archive() {
  local archive=$1 name=$2 config=$3 history=$4; shift 4
  local tag=${name##*:} work created digest size diff_ids="" layers="" dir
  [[ $name == *:* && $tag != */* ]] || die "image name $name needs a :tag"
  work=$(mktemp -d "$(dirname "$archive")/.oci.XXXXXX")
  mkdir -p "$work/blobs/sha256"
  for dir in "$@"; do
    digest=$(cat "$dir/digest")
    ln -f "$dir/layer.tar.gz" "$work/blobs/sha256/$digest" 2>/dev/null ||
      cp "$dir/layer.tar.gz" "$work/blobs/sha256/$digest"
    diff_ids+="${diff_ids:+,}\"sha256:$(cat "$dir/diff_id")\""
    layers+="${layers:+,}{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar+gzip\",\"digest\":\"sha256:$digest\",\"size\":$(cat "$dir/size")}"
  done
  created=$(date -u -d "@${SOURCE_DATE_EPOCH:-$(date +%s)}" +%Y-%m-%dT%H:%M:%SZ)

  put_json() { # put_json TEXT: stores a blob, sets digest and size
    printf '%s' "$1" >"$work/blob"
    digest=$(sha256sum <"$work/blob" | cut -c1-64)
    size=$(stat -c %s "$work/blob")
    mv "$work/blob" "$work/blobs/sha256/$digest"
  }
  put_json "{\"architecture\":\"amd64\",\"os\":\"linux\",\"created\":\"$created\",\"config\":$config,\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[$diff_ids]},\"history\":$history}"
  local config_digest=$digest config_size=$size
  put_json "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"config\":{\"mediaType\":\"application/vnd.oci.image.config.v1+json\",\"digest\":\"sha256:$config_digest\",\"size\":$config_size},\"layers\":[$layers]}"
  printf '%s\n' "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.index.v1+json\",\"manifests\":[{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"digest\":\"sha256:$digest\",\"size\":$size,\"platform\":{\"architecture\":\"amd64\",\"os\":\"linux\"},\"annotations\":{\"io.containerd.image.name\":\"$name\",\"org.opencontainers.image.ref.name\":\"$tag\"}}]}" >"$work/index.json"
  echo '{"imageLayoutVersion":"1.0.0"}' >"$work/oci-layout"
  python3 -c 'import json, sys; [json.load(open(f)) for f in sys.argv[1:]]' \
    "$work/index.json" "$work/blobs/sha256/$config_digest" "$work/blobs/sha256/$digest" ||
    die "$name: the image's JSON does not parse"
  if command -v umoci >/dev/null; then
    umoci stat --image "$work:$tag" >/dev/null || die "$name: umoci stat does not accept the layout"
  fi
  tar -C "$work" --format=gnu --sort=name --numeric-owner --owner=0 --group=0 \
    -cf "$archive.part" oci-layout index.json blobs
  mv -f "$archive.part" "$archive"
  rm -rf "$work"
  echo "sha256:$digest"
}
