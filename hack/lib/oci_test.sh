#!/usr/bin/env bash
# T0 of hack/lib/oci.sh, the one OCI archive writer: it writes what it should
# (every blob under its digest and size, the name in the index, the layer's
# entries root-owned with fixed times), the same files give the same bytes,
# the digest of a fixed tree does not drift (images whose files did not change
# keep their digests in containerd), and bad input is refused with a message.
#
#   hack/lib/oci_test.sh        prints "oci_test: N passed, M failed"; exit 1 on a failure
set -euo pipefail
umask 022

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=hack/lib/oci.sh
source "$here/oci.sh"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
passed=0 failed=0
ok() { passed=$((passed + 1)); echo "ok: $*"; }
fail() { failed=$((failed + 1)); echo "FAIL: $*"; }

# The manifest digest of the tree below, as the writer produced it when this
# test was written (GNU tar 1.34, gzip 1.12). A change means every image in
# the tree changes digest: say why in the commit, then update it.
golden=sha256:85b2ecb24fe0d39337b5b9f15ff536972d9fa7d4d87e2a7a7f3c197aab55a96c

# A small tree: a program, a directory with a file, a symlink, a sticky /tmp.
tree=$work/tree
mkdir -p "$tree/bin" "$tree/etc" "$tree/tmp"
printf '#!/bin/sh\necho hello\n' >"$tree/bin/hello"
chmod 0755 "$tree/bin/hello"
ln -s hello "$tree/bin/hi"
printf 'root:x:0:0:root:/root:/bin/sh\n' >"$tree/etc/passwd"
chmod 1777 "$tree/tmp"
touch -d @1700000000 "$tree/etc/passwd" # older than the epoch: kept as it is
config='{"Entrypoint":["/bin/hello"],"Env":["PATH=/usr/bin:/bin"]}'

write() { # write ARCHIVE: the tree as vireo.local/oci-test:v1, epoch 1750000000
  SOURCE_DATE_EPOCH=1750000000 oci_tree_archive "$1" vireo.local/oci-test:v1 "$tree" "$config" \
    hack/lib/oci_test.sh "the test tree" --owner=0 --group=0
}

# --- the archive reads back as written -------------------------------------
if digest=$(write "$work/a.tar") && [[ $digest == sha256:* ]]; then
  ok "oci_tree_archive wrote $digest"
else
  fail "oci_tree_archive failed"
  digest=""
fi
mkdir "$work/a"
tar -C "$work/a" -xf "$work/a.tar"
if out=$(python3 - "$work/a" "$digest" 2>&1 <<'PY'
import hashlib, json, os, sys
root, digest = sys.argv[1], sys.argv[2]
def blob(d):
    with open(os.path.join(root, "blobs", "sha256", d.split(":")[1]), "rb") as f:
        data = f.read()
    assert "sha256:" + hashlib.sha256(data).hexdigest() == d, "blob %s does not match its digest" % d
    return data
assert json.load(open(os.path.join(root, "oci-layout"))) == {"imageLayoutVersion": "1.0.0"}
index = json.load(open(os.path.join(root, "index.json")))
[m] = index["manifests"]
assert m["digest"] == digest, "index names %s, the writer printed %s" % (m["digest"], digest)
assert m["annotations"] == {"io.containerd.image.name": "vireo.local/oci-test:v1",
                            "org.opencontainers.image.ref.name": "v1"}, m["annotations"]
manifest = json.loads(blob(m["digest"]))
assert len(blob(m["digest"])) == m["size"]
config = json.loads(blob(manifest["config"]["digest"]))
assert config["config"]["Entrypoint"] == ["/bin/hello"], config
assert config["created"] == "2025-06-15T15:06:40Z", config["created"]
assert len(config["rootfs"]["diff_ids"]) == len(manifest["layers"]) == len(config["history"]) == 1
for desc in [manifest["config"]] + manifest["layers"]:
    assert len(blob(desc["digest"])) == desc["size"], desc
print(manifest["layers"][0]["digest"].split(":")[1])
PY
); then
  ok "blobs match their digests and sizes; the index names vireo.local/oci-test:v1"
  layer=$work/a/blobs/sha256/$out
  listing=$(tar -tvzf "$layer" --utc | awk '{print $1, $2, $4, $5, $6, $7, $8}')
  want='drwxr-xr-x 0/0 2025-06-15 15:06 bin/  
-rwxr-xr-x 0/0 2025-06-15 15:06 bin/hello  
lrwxrwxrwx 0/0 2025-06-15 15:06 bin/hi -> hello
drwxr-xr-x 0/0 2025-06-15 15:06 etc/  
-rw-r--r-- 0/0 2023-11-14 22:13 etc/passwd  
drwxrwxrwt 0/0 2025-06-15 15:06 tmp/  '
  if [[ $listing == "$want" ]]; then
    ok "the layer's entries: sorted, no ./ prefix, owned by 0/0, times clamped to the epoch"
  else
    fail "the layer's entries: $listing"
  fi
else
  fail "reading the archive back: $out"
fi

# --- the same files give the same bytes ------------------------------------
sleep 1 # a time stamp leaking into the archive would show now
write "$work/b.tar" >/dev/null
if cmp -s "$work/a.tar" "$work/b.tar"; then
  ok "written twice, the archives are byte-identical"
else
  fail "written twice, the archives differ"
fi

# --- the digest of a fixed tree does not drift -----------------------------
if [[ $digest == "$golden" ]]; then
  ok "the manifest digest is the golden one"
else
  fail "the manifest digest is $digest, the golden one $golden: every image's digest would change"
fi

# --- a files image (containerDisk, kernel boot) -----------------------------
printf 'qcow2 bytes' >"$work/disk.img"
printf 'kernel' >"$work/vmlinuz"
if files_digest=$(SOURCE_DATE_EPOCH=1750000000 oci_files_archive "$work/f.tar" vireo.local/oci-files:v1 \
  hack/lib/oci_test.sh "two files" disk/test.qcow2="$work/disk.img" boot/vmlinuz="$work/vmlinuz"); then
  mkdir "$work/f"
  tar -C "$work/f" -xf "$work/f.tar"
  layer=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["layers"][0]["digest"][7:])' \
    "$work/f/blobs/sha256/${files_digest#sha256:}")
  listing=$(tar -tvzf "$work/f/blobs/sha256/$layer" | awk '{print $1, $2, $6}')
  want='dr-xr-xr-x 107/107 boot/
-r--r--r-- 107/107 boot/vmlinuz
dr-xr-xr-x 107/107 disk/
-r--r--r-- 107/107 disk/test.qcow2'
  [[ $listing == "$want" ]] && ok "oci_files_archive: the files at their paths, 107/107, 0444 in 0555" ||
    fail "oci_files_archive's layer: $listing"
  [[ $(tar -xzOf "$work/f/blobs/sha256/$layer" disk/test.qcow2) == "qcow2 bytes" ]] &&
    ok "oci_files_archive: the file's bytes" || fail "oci_files_archive: the file's bytes differ"
else
  fail "oci_files_archive failed"
fi

# --- bad input is refused with a message -----------------------------------
expect_error() { # expect_error TEXT CMD...: CMD fails and says TEXT
  local out
  if out=$("${@:2}" 2>&1); then
    fail "$* succeeded"
  elif [[ $out == *"$1"* ]]; then
    ok "refused: $out"
  else
    fail "$*: the message does not say '$1': $out"
  fi
}
mkdir "$work/empty"
expect_error "needs a :tag" oci_tree_archive "$work/c.tar" vireo.local/oci-test "$tree" "$config" t t
expect_error "is empty" oci_tree_archive "$work/c.tar" vireo.local/oci-test:v1 "$work/empty" "$config" t t
expect_error "does not parse" oci_tree_archive "$work/c.tar" vireo.local/oci-test:v1 "$tree" '{"Entrypoint":' t t
expect_error "is not a layer" oci_archive "$work/c.tar" vireo.local/oci-test:v1 '{}' '[]' "$work/empty"
expect_error "is not DEST=SRC" oci_files_archive "$work/c.tar" vireo.local/oci-test:v1 t t disk/x="$work/nope"
expect_error "is not DEST=SRC" oci_files_archive "$work/c.tar" vireo.local/oci-test:v1 t t "$work/disk.img"
expect_error "no file" oci_files_archive "$work/c.tar" vireo.local/oci-test:v1 t t
[[ ! -e $work/c.tar && -z $(find "$work" -maxdepth 1 -name '.oci.*' -o -maxdepth 1 -name '.layer.*' -o -maxdepth 1 -name '.files.*') ]] &&
  ok "a refused archive leaves no file and no work directory" ||
  fail "a refused archive left files: $(ls -A "$work")"

echo "oci_test: $passed passed, $failed failed"
((failed == 0))
