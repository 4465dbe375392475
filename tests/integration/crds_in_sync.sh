#!/usr/bin/env bash
# T0: the committed CRDs (crds/*.yaml, and the Helm chart's copies in
# manifests/chart/crds/) are exactly what hack/gen-crds.py makes from crds/src/,
# so the VM's spec.template.spec and the VMI's spec (and the VM's
# dataVolumeTemplates[].spec and the DataVolume's spec) cannot drift apart, the
# chart installs the same CRDs as `kubectl apply -f crds/`, and nobody
# hand-edits a generated file. Also checks that the generator itself refuses
# sources with undescribed fields.
# Ends with "crds_in_sync: N passed, M failed"; exits non-zero if M > 0.
set -uo pipefail

root=${VIREO_SOURCE_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
python=/usr/bin/python3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
passed=0 failed=0
pass() { passed=$((passed + 1)); }
fail() { failed=$((failed + 1)); echo "FAIL: $1"; [[ -n ${2:-} ]] && sed 's/^/    /' <<<"$2"; }

if out=$("$python" "$root/hack/gen-crds.py" --out "$tmp/crds" 2>&1); then pass; else
  fail "hack/gen-crds.py runs" "$out"; fi

shopt -s nullglob
generated=("$tmp"/crds/*.yaml)
((${#generated[@]} == 3)) && pass || fail "the generator writes 3 CRDs (wrote ${#generated[@]})"
for dir in crds manifests/chart/crds; do
  for f in "${generated[@]}"; do
    name=$(basename "$f")
    if [[ ! -f $root/$dir/$name ]]; then
      fail "$dir/$name is committed (run hack/gen-crds.py)"
    elif out=$(diff -u "$root/$dir/$name" "$f"); then
      pass
    else
      fail "$dir/$name matches crds/src/ (run hack/gen-crds.py)" "$(head -n 40 <<<"$out")"
    fi
  done
  # A CRD file there that the generator does not make would be applied too.
  for f in "$root/$dir"/*.yaml "$root/$dir"/*.yml "$root/$dir"/*.json; do
    [[ -f $tmp/crds/$(basename "$f") ]] && pass || fail "$dir/$(basename "$f") is made by hack/gen-crds.py"
  done
done

# The generator's own checks can fail: a field without a description is refused.
mkdir -p "$tmp/src-copy/hack" "$tmp/src-copy/crds"
cp "$root/hack/gen-crds.py" "$tmp/src-copy/hack/"
cp -r "$root/crds/src" "$tmp/src-copy/crds/"
"$python" - "$tmp/src-copy/crds/src/vmi-spec.yaml" <<'EOF'
import sys
p = sys.argv[1]
s = open(p).read()
needle = "      cpu:\n        type: object\n        description: >-\n"
assert needle in s, "vmi-spec.yaml changed shape; update this check"
s = s.replace(needle, "      cpu:\n        type: object\n        x-undescribed: >-\n", 1)
open(p, "w").write(s)
EOF
if out=$("$python" "$tmp/src-copy/hack/gen-crds.py" --out "$tmp/bad" 2>&1); then
  fail "hack/gen-crds.py refuses a field without description" "$out"
elif grep -q 'domain.cpu: no description' <<<"$out"; then pass; else
  fail "hack/gen-crds.py names the undescribed field" "$out"; fi

echo "crds_in_sync: $passed passed, $failed failed"
((failed == 0))
