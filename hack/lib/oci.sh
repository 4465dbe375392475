# shellcheck shell=bash
# The one writer of OCI image archives in the tree (sourced, not run): every
# image Vireo makes (the cluster's pause, busybox, CoreDNS and local-path
# images, the controller, launcher and device-plugin images, the
# containerDisks) goes through here. No registry is reachable on the machines
# Vireo is tested on, so images reach containerd as archives (`ctr -n k8s.io
# images import`); none needs a container engine. The same files and the same
# SOURCE_DATE_EPOCH give the same bytes, so an unchanged image keeps its digest.
#
# A layer is a directory holding layer.tar.gz and the files `digest` (sha256
# of layer.tar.gz), `diff_id` (sha256 of the uncompressed tar) and `size`.
#
#   tar_tree ROOT TAR EPOCH [tar options]      a directory tree as a layer tar
#   make_layer TAR LAYERDIR                    the layer files of a tar
#   oci_archive ARCHIVE NAME:TAG CONFIG-JSON HISTORY-JSON LAYERDIR...
#   oci_tree_archive ARCHIVE NAME:TAG ROOT CONFIG-JSON CREATED-BY COMMENT [tar options]
#   oci_files_archive ARCHIVE NAME:TAG CREATED-BY COMMENT DEST=SRC...
#
# Each prints what went wrong on stderr and returns 1: callers say which image
# (`... || die "..."`), and no step relies on `set -e`, which a caller's `||`
# turns off inside the function.

oci_error() { echo "oci: error: $*" >&2; return 1; }

# tar_tree ROOT TAR EPOCH [tar options]: entries sorted, times clamped to
# EPOCH, numeric owners (the options may set --owner/--group/--mode), so the
# same files give the same bytes. The entries are ROOT's children ("bin",
# not "./bin"), as in the layers engines write.
tar_tree() {
  local root=$1 tar=$2 epoch=$3; shift 3
  local entries=()
  mapfile -t entries < <(cd "$root" && ls -A | LC_ALL=C sort)
  ((${#entries[@]})) || { oci_error "$root is empty: no layer to write"; return 1; }
  tar -C "$root" --format=gnu --sort=name --numeric-owner --mtime="@$epoch" --clamp-mtime \
    "$@" -cf "$tar" -- "${entries[@]}" || { oci_error "tar of $root failed"; return 1; }
}

# make_layer TAR LAYERDIR: gzip without a name or time stamp (its digest
# depends on the files only); TAR is removed.
make_layer() {
  local tar=$1 dir=$2
  mkdir -p "$dir" || return 1
  sha256sum <"$tar" | cut -c1-64 >"$dir/diff_id" || return 1
  gzip -n -6 <"$tar" >"$dir/layer.tar.gz.part" || { oci_error "gzip of $tar failed"; return 1; }
  rm -f "$tar"
  sha256sum <"$dir/layer.tar.gz.part" | cut -c1-64 >"$dir/digest" || return 1
  stat -c %s "$dir/layer.tar.gz.part" >"$dir/size" || return 1
  mv "$dir/layer.tar.gz.part" "$dir/layer.tar.gz"
}

# oci_archive ARCHIVE NAME:TAG CONFIG-JSON HISTORY-JSON LAYERDIR...
# An OCI image layout as a tar ("oci-archive"), named for containerd by the
# index annotation io.containerd.image.name (the full name; the standard
# org.opencontainers.image.ref.name carries only the tag). CONFIG-JSON is the
# image config's "config" object (Entrypoint, Env, User, ...); HISTORY-JSON a
# JSON array with one entry per layer. The image's "created" and the tar's
# times are SOURCE_DATE_EPOCH (default: now). Prints the manifest's digest.
oci_archive() {
  local archive=$1 name=$2 config=$3 history=$4; shift 4
  local tag=${name##*:} work epoch created digest size diff_ids="" layers="" dir
  [[ $name == *:* && $tag != */* ]] || { oci_error "image name $name needs a :tag"; return 1; }
  (($#)) || { oci_error "$name: no layer"; return 1; }
  epoch=${SOURCE_DATE_EPOCH:-$(date +%s)}
  created=$(date -u -d "@$epoch" +%Y-%m-%dT%H:%M:%SZ) || return 1
  work=$(mktemp -d "$(dirname "$archive")/.oci.XXXXXX") || return 1
  mkdir -p "$work/blobs/sha256"
  for dir in "$@"; do
    [[ -f $dir/layer.tar.gz && -f $dir/digest ]] || { oci_error "$name: $dir is not a layer"; rm -rf "$work"; return 1; }
    digest=$(cat "$dir/digest")
    ln -f "$dir/layer.tar.gz" "$work/blobs/sha256/$digest" 2>/dev/null ||
      cp "$dir/layer.tar.gz" "$work/blobs/sha256/$digest" || { rm -rf "$work"; return 1; }
    diff_ids+="${diff_ids:+,}\"sha256:$(cat "$dir/diff_id")\""
    layers+="${layers:+,}{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar+gzip\",\"digest\":\"sha256:$digest\",\"size\":$(cat "$dir/size")}"
  done

  # A JSON blob stored under its sha256 (no trailing newline); sets digest, size.
  oci_put_json() {
    printf '%s' "$1" >"$work/blob"
    digest=$(sha256sum <"$work/blob" | cut -c1-64)
    size=$(stat -c %s "$work/blob")
    mv "$work/blob" "$work/blobs/sha256/$digest"
  }
  oci_put_json "{\"architecture\":\"amd64\",\"os\":\"linux\",\"created\":\"$created\",\"config\":$config,\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[$diff_ids]},\"history\":$history}"
  local config_digest=$digest config_size=$size
  oci_put_json "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"config\":{\"mediaType\":\"application/vnd.oci.image.config.v1+json\",\"digest\":\"sha256:$config_digest\",\"size\":$config_size},\"layers\":[$layers]}"
  printf '%s\n' "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.index.v1+json\",\"manifests\":[{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"digest\":\"sha256:$digest\",\"size\":$size,\"platform\":{\"architecture\":\"amd64\",\"os\":\"linux\"},\"annotations\":{\"io.containerd.image.name\":\"$name\",\"org.opencontainers.image.ref.name\":\"$tag\"}}]}" >"$work/index.json"
  echo '{"imageLayoutVersion":"1.0.0"}' >"$work/oci-layout"

  # The JSON is written by hand: a parser reads it back before anyone imports it.
  local bad
  if ! bad=$(python3 -c '
import json, sys
for f in sys.argv[1:]:
    try:
        json.load(open(f))
    except ValueError as e:
        sys.exit("%s: %s" % (open(f).read(200), e))' \
    "$work/index.json" "$work/blobs/sha256/$config_digest" "$work/blobs/sha256/$digest" 2>&1); then
    rm -rf "$work"
    oci_error "$name: the image's JSON does not parse: $bad"
    return 1
  fi
  if command -v umoci >/dev/null && ! umoci stat --image "$work:$tag" >/dev/null; then
    rm -rf "$work"
    oci_error "$name: umoci stat does not accept the layout"
    return 1
  fi
  if ! tar -C "$work" --format=gnu --sort=name --numeric-owner --owner=0 --group=0 --mtime="@$epoch" \
    -cf "$archive.part" oci-layout index.json blobs; then
    rm -rf "$work" "$archive.part"
    oci_error "$name: tar of the layout failed"
    return 1
  fi
  mv -f "$archive.part" "$archive"
  rm -rf "$work"
  echo "sha256:$digest"
}

# oci_tree_archive ARCHIVE NAME:TAG ROOT CONFIG-JSON CREATED-BY COMMENT [tar options]:
# a one-layer image of the directory ROOT (the tar options set owners and
# modes); CREATED-BY and COMMENT go in its history. Prints the manifest's digest.
oci_tree_archive() {
  local archive=$1 name=$2 root=$3 config=$4 created_by=$5 comment=$6; shift 6
  local epoch created work history
  epoch=${SOURCE_DATE_EPOCH:-$(date +%s)}
  created=$(date -u -d "@$epoch" +%Y-%m-%dT%H:%M:%SZ) || return 1
  work=$(mktemp -d "$(dirname "$archive")/.layer.XXXXXX") || return 1
  history="[{\"created\":\"$created\",\"created_by\":\"$created_by\",\"comment\":\"$comment\"}]"
  if tar_tree "$root" "$work/layer.tar" "$epoch" "$@" && make_layer "$work/layer.tar" "$work/layer" &&
    SOURCE_DATE_EPOCH=$epoch oci_archive "$archive" "$name" "$config" "$history" "$work/layer"; then
    rm -rf "$work"
    return 0
  fi
  rm -rf "$work"
  return 1
}

# oci_files_archive ARCHIVE NAME:TAG CREATED-BY COMMENT DEST=SRC...: a
# one-layer image holding each file SRC at DEST (a path such as
# disk/test-disk.qcow2), owned by 107:107, files 0444 and directories 0555,
# as KubeVirt's containerDisk and kernel-boot images are. It is read back
# before it is kept: every blob against its digest and size, the layer's
# files exactly the DESTs with that owner and mode, each one's bytes against
# its SRC; else ARCHIVE is removed. SOURCE_DATE_EPOCH as oci_archive. Prints
# the manifest's digest.
# The layer's directories extract read-only (0555): writable again first.
oci_files_cleanup() { chmod -R u+w "$1" 2>/dev/null; rm -rf "$@"; }

oci_files_archive() {
  local archive=$1 name=$2 created_by=$3 comment=$4; shift 4
  (($#)) || { oci_error "$name: no file"; return 1; }
  local work pair dest src want="" digest layer got
  work=$(mktemp -d "$(dirname "$archive")/.files.XXXXXX") || return 1
  for pair in "$@"; do
    dest=${pair%%=*} src=${pair#*=}
    [[ $pair == *=* && -n $dest && -f $src ]] ||
      { oci_error "$name: $pair is not DEST=SRC with SRC a file"; rm -rf "$work"; return 1; }
    mkdir -p "$work/rootfs/$(dirname "$dest")" || { rm -rf "$work"; return 1; }
    # A hard link spares a copy of a large disk; tar gives the modes.
    ln "$src" "$work/rootfs/$dest" 2>/dev/null || cp "$src" "$work/rootfs/$dest" ||
      { rm -rf "$work"; return 1; }
    want+="-r--r--r-- 107/107 $dest"$'\n'
  done
  want=$(LC_ALL=C sort <<<"${want%$'\n'}")
  if ! digest=$(oci_tree_archive "$archive" "$name" "$work/rootfs" '{}' "$created_by" "$comment" \
    --owner=107 --group=107 --mode=a=rX); then
    rm -rf "$work"
    return 1
  fi
  # Read back what was written, not what was meant to be.
  mkdir "$work/check" "$work/files"
  if ! tar -C "$work/check" -xf "$archive" ||
    ! layer=$(python3 - "$work/check" "$digest" 2>&1 <<'PY'
import hashlib, json, os, sys
root, digest = sys.argv[1], sys.argv[2]
def blob(d):
    h = hashlib.sha256()
    size = 0
    with open(os.path.join(root, "blobs", "sha256", d.split(":")[1]), "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
            size += len(chunk)
    assert "sha256:" + h.hexdigest() == d, "blob %s does not match its digest" % d
    return size
index = json.load(open(os.path.join(root, "index.json")))
assert index["manifests"][0]["digest"] == digest, index
with open(os.path.join(root, "blobs", "sha256", digest.split(":")[1])) as f:
    manifest = json.load(f)
for desc in [manifest["config"]] + manifest["layers"]:
    assert blob(desc["digest"]) == desc["size"], desc
print(manifest["layers"][0]["digest"].split(":")[1])
PY
    ); then
    oci_error "$name: the archive does not read back: $layer"
    oci_files_cleanup "$work" "$archive"
    return 1
  fi
  got=$(tar -tvzf "$work/check/blobs/sha256/$layer" | awk '$6 !~ /\/$/ { print $1, $2, $6 }' | LC_ALL=C sort)
  if [[ $got != "$want" ]]; then
    oci_error "$name: the layer should hold exactly (mode, owner, file): $want; it holds: $got"
    oci_files_cleanup "$work" "$archive"
    return 1
  fi
  tar -C "$work/files" -xzf "$work/check/blobs/sha256/$layer" || { oci_files_cleanup "$work" "$archive"; return 1; }
  for pair in "$@"; do
    if ! cmp -s "${pair#*=}" "$work/files/${pair%%=*}"; then
      oci_error "$name: ${pair%%=*} in the layer differs from ${pair#*=}"
      oci_files_cleanup "$work" "$archive"
      return 1
    fi
  done
  oci_files_cleanup "$work"
  echo "$digest"
}
