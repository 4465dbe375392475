#!/usr/bin/env bash
# T0: the committed CRDs (crds/*.yaml, and the Helm chart's copies in
# manifests/chart/crds/) are exactly what hack/gen-crds.py makes from crds/src/,
# so the VM's spec.template.spec and the VMI's spec (and the VM's
# dataVolumeTemplates[].spec and the DataVolume's spec) cannot drift apart, the
# chart installs the same CRDs as `kubectl apply -f crds/`, and nobody
# hand-edits a generated file. Also checks that the generator itself refuses
# sources with undescribed fields and a bad list of unsupported fields, and
# that every listed unsupported field is declared and refused in the CRDs and
# listed in docs/api.md.
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
((${#generated[@]} == 7)) && pass || fail "the generator writes 7 CRDs (wrote ${#generated[@]})"
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

# The list of unsupported fields (crds/src/unsupported.yaml) is checked too:
# a field both supported and listed, a path whose parent the source does not
# declare and a field without its type are refused, each by name; and every
# listed field comes out declared, with the rule of its own that refuses it,
# in every CRD that has it.
bad_list() { # description expected-text old|new
  rm -rf "$tmp/src-copy/crds/src" && cp -r "$root/crds/src" "$tmp/src-copy/crds/"
  "$python" - "$tmp/src-copy/crds/src/unsupported.yaml" "$3" <<'EOF'
import sys
p, edit = sys.argv[1], sys.argv[2].replace("\\n", "\n")
s = open(p).read()
old, new = edit.split("|")
assert old in s, f"unsupported.yaml changed shape ({old!r}); update this check"
open(p, "w").write(s.replace(old, new, 1))
EOF
  if out=$("$python" "$tmp/src-copy/hack/gen-crds.py" --out "$tmp/bad" 2>&1); then
    fail "hack/gen-crds.py refuses $1" "$out"
  elif grep -qF -- "$2" <<<"$out"; then pass; else
    fail "hack/gen-crds.py refuses $1 with '$2'" "$out"; fi
}
bad_list "a supported field listed as unsupported" \
  "domain.devices.disks[].serial is declared as supported in vmi-spec.yaml" \
  '  domain.devices.disks[].tag:|  domain.devices.disks[].serial: string the serial\n  domain.devices.disks[].tag:'
bad_list "an unsupported field under a parent the source lacks" \
  "domain.devices.nowhere[].tpm: nowhere[] is not declared in vmi-spec.yaml" \
  '  domain.devices.tpm:|  domain.devices.nowhere[].tpm: object a TPM\n  domain.devices.tpm:'
bad_list "an unsupported field without its type" \
  "domain.devices.tpm: give its type" \
  '  domain.devices.tpm: object |  domain.devices.tpm: '
if out=$("$python" - "$tmp/crds" "$root/crds/src/unsupported.yaml" 2>&1 <<'EOF'
import sys, yaml
crds, listed = sys.argv[1], yaml.safe_load(open(sys.argv[2]))
def schema(name):
    return yaml.safe_load(open(f"{crds}/{name}.yaml"))["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
vm, vmi, dv = (schema(n) for n in ("virtualmachines.kubevirt.io", "virtualmachineinstances.kubevirt.io",
                                   "datavolumes.cdi.kubevirt.io"))
vm_spec = vm["properties"]["spec"]["properties"]
roots = {"vmi-spec.yaml": [vmi["properties"]["spec"], vm_spec["template"]["properties"]["spec"]],
         "virtualmachines.kubevirt.io.yaml": [vm],
         "dv-spec.yaml": [dv["properties"]["spec"], vm_spec["dataVolumeTemplates"]["items"]["properties"]["spec"]],
         "instancetype-spec.yaml": [schema(f"virtualmachine{c}instancetypes.instancetype.kubevirt.io")["properties"]["spec"]
                                    for c in ("", "cluster")],
         "preference-spec.yaml": [schema(f"virtualmachine{c}preferences.instancetype.kubevirt.io")["properties"]["spec"]
                                  for c in ("", "cluster")]}
missing = []
for src, fields in listed.items():
    for path in fields:
        *parents, name = path.split(".")
        for node in roots[src]:
            for seg in parents:
                node = node["properties"][seg.removesuffix("[]")]
                if seg.endswith("[]"):
                    node = node["items"]
            field = node.get("properties", {}).get(name, {})
            rules = [(r.get("rule", "").strip(), r.get("message", ""))
                     for r in field.get("x-kubernetes-validations", [])]
            if rules != [("false", f"Vireo does not support {path}: {fields[path].split(' ', 1)[1]}; remove it")]:
                missing.append(f"{src}: {path}")
print("\n".join(missing))
sys.exit(1 if missing else 0)
EOF
); then pass; else fail "every field of crds/src/unsupported.yaml is declared and refused in the CRDs" "$out"; fi

# docs/api.md's section "The refused fields" lists every refused field, as
# `path`, and no field that is not refused.
if out=$("$python" - "$root/crds/src/unsupported.yaml" "$root/docs/api.md" 2>&1 <<'EOF'
import re, sys, yaml
listed = {p for fields in yaml.safe_load(open(sys.argv[1])).values() for p in fields}
section = open(sys.argv[2]).read().partition("\n## The refused fields\n")[2]
rows = set(re.findall(r"^\| `([^`]+)` \|", section, re.M))
problems = [f"not in docs/api.md: {p}" for p in sorted(listed - rows)]
problems += [f"in docs/api.md but not in crds/src/unsupported.yaml: {p}" for p in sorted(rows - listed)]
print("\n".join(problems))
sys.exit(1 if problems else 0)
EOF
); then pass; else fail "docs/api.md lists exactly the fields of crds/src/unsupported.yaml" "$out"; fi

# --check-kubevirt compares the CRDs with a KubeVirt OpenAPI document: here a
# made-up one, where a field nobody declares or refuses (at two depths, one
# inside the disks list) is reported, and a refused one (tpm), a supported one
# (disks[].bootOrder) and one kept whole (affinity) are not.
cat >"$tmp/swagger.json" <<'EOF'
{"definitions": {
  "v1.VirtualMachineInstanceSpec": {"type": "object", "properties": {
    "domain": {"$ref": "#/definitions/v1.DomainSpec"},
    "affinity": {"$ref": "#/definitions/v1.Affinity"},
    "madeUpSpecField": {"type": "string"}}},
  "v1.DomainSpec": {"type": "object", "properties": {"devices": {"$ref": "#/definitions/v1.Devices"}}},
  "v1.Devices": {"type": "object", "properties": {
    "tpm": {"type": "object"},
    "disks": {"type": "array", "items": {"$ref": "#/definitions/v1.Disk"}}}},
  "v1.Disk": {"type": "object", "properties": {"bootOrder": {"type": "integer"}, "madeUpDiskKnob": {"type": "boolean"}}},
  "v1.Affinity": {"type": "object", "properties": {"nodeAffinity": {"type": "object"}}}}}
EOF
if out=$("$python" "$root/hack/gen-crds.py" --check-kubevirt "$tmp/swagger.json" 2>&1); then
  fail "hack/gen-crds.py --check-kubevirt reports fields the CRDs lack" "$out"
elif [[ $(grep -c 'neither declared nor' <<<"$out") == 2 ]] &&
    grep -qF 'virtualmachineinstances.spec.madeUpSpecField' <<<"$out" &&
    grep -qF 'virtualmachineinstances.spec.domain.devices.disks[].madeUpDiskKnob' <<<"$out" &&
    grep -qF '2 of 8 KubeVirt fields compared are missing' <<<"$out"; then pass; else
  fail "hack/gen-crds.py --check-kubevirt names exactly the two made-up fields" "$out"; fi

echo "crds_in_sync: $passed passed, $failed failed"
((failed == 0))
