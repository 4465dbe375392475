#!/usr/bin/env bash
# T1: the DataVolume CRD (cdi.kubevirt.io/v1beta1) and the VirtualMachine's
# DataVolume links on a real kube-apiserver, applied the way users do,
# `kubectl apply --validate=strict`:
#
#   - every manifest in manifests/datavolume/valid/ (DataVolumes as CDI's docs
#     write them, VMs and VMIs using them) is accepted;
#   - every manifest in manifests/datavolume/invalid/ is refused, and the
#     refusal contains the text of its first line, `# expect: <text>`: each
#     CDI field Vireo does not implement is refused by name;
#   - the DataVolume spec in a VM's dataVolumeTemplates is the DataVolume's;
#   - `kubectl get dv` shows CDI's columns, with status written through the
#     status subresource as the controller will; the VMI's volumeStatus takes
#     a DataVolume claim's details.
#
# Needs the CRDs installed (tests/integration/apiserver.sh does that) and
#   KUBECONFIG  a cluster-admin kubeconfig    KUBECTL  path to kubectl
# or, as hack/test.sh runs it, VIREO_TEST_CLUSTER_DIR (the harness directory).
# Ends with "datavolume: N passed, M failed"; exits non-zero if M > 0.
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
manifests=$here/manifests/datavolume
# shellcheck source=lib.sh
source "$here/lib.sh"
t1_cluster datavolume

# Without the CRD established every "refused" below would be for the wrong reason.
if out=$(k wait --for=condition=Established --timeout=60s crd/datavolumes.cdi.kubevirt.io 2>&1); then
  pass; else fail "CRD datavolumes.cdi.kubevirt.io is installed and established" "$out"; fi
crds=$(cd "$here/../../crds" && pwd)
if out=$(k diff -f "$crds/datavolumes.cdi.kubevirt.io.yaml" 2>&1); then pass; else
  fail "the installed DataVolume CRD is crds/datavolumes.cdi.kubevirt.io.yaml" "$(head -n 30 <<<"$out")"; fi

shopt -s nullglob
valid=("$manifests"/valid/*.yaml)
invalid=("$manifests"/invalid/*.yaml)
((${#valid[@]} >= 8)) && pass || fail "at least 8 valid manifests (found ${#valid[@]})"
((${#invalid[@]} >= 30)) && pass || fail "at least 30 invalid manifests (found ${#invalid[@]})"

for f in "${valid[@]}"; do
  name=valid/$(basename "$f")
  if out=$(k apply --validate=strict --dry-run=server -f "$f" 2>&1); then pass; else
    fail "$name is accepted" "$out"; fi
done

for f in "${invalid[@]}"; do
  name=invalid/$(basename "$f")
  first=$(head -n 1 "$f")
  expect=${first#\# expect: }
  if [[ $first != "# expect: "* || -z ${expect// /} ]]; then
    fail "$name starts with '# expect: <part of the error>'" "first line: $first"
    continue
  fi
  if out=$(k apply --validate=strict --dry-run=server -f "$f" 2>&1); then
    fail "$name is refused" "$out"
  elif ! grep -qF -- "$expect" <<<"$out"; then
    fail "$name is refused with '$expect'" "$out"
  elif grep -qiE 'unable to recognize|no matches for kind|connection refused|Unauthorized|forbidden:.*cannot' <<<"$out"; then
    fail "$name is refused by the schema, not by the client or the server's setup" "$out"
  else
    pass
  fi
done

# kubectl explain: descriptions reach a reader.
explain dv 'GROUP: +cdi.kubevirt.io' 'KIND: +DataVolume' 'VERSION: +v1beta1' 'spec' 'status'
explain dv.spec.source 'http' 'registry' 'blank' 'pvc' 'exactly one'
explain dv.spec.source.registry.pullMethod 'ENUM:' 'pod' 'node' 'image store'
explain dv.spec.contentType 'ENUM:' 'kubevirt' 'archive.*not supported'
explain vm.spec.dataVolumeTemplates 'KIND: +VirtualMachine' 'metadata.*-required-' 'spec.*-required-'
explain vmi.spec.volumes.dataVolume 'name.*-required-' 'DataVolume'
explain vmi.status.volumeStatus.persistentVolumeClaimInfo 'claimName' 'filesystemOverhead'

# One schema: a VM's dataVolumeTemplates[].spec and a DataVolume's spec list
# the same fields.
a=$(fields dv.spec) b=$(fields vm.spec.dataVolumeTemplates.spec)
if [[ -n $a && $a == "$b" ]]; then pass; else
  fail "vm.spec.dataVolumeTemplates.spec and dv.spec have the same fields" "$(diff <(echo "$a") <(echo "$b") | head -20)"; fi

# Real objects: short names, the "all" category, CDI's printer columns and
# status through the subresource (strict), in a scratch namespace.
ns=datavolume-test-$$
if out=$(k create namespace "$ns" 2>&1); then
  trap 'k delete namespace "$ns" --wait=false >/dev/null 2>&1' EXIT
  dv_status='{"phase": "ImportInProgress", "progress": "45.20%", "restartCount": 2,
    "claimName": "registry-image-datavolume",
    "conditions": [{"type": "Bound", "status": "True", "reason": "Bound", "message": "PVC registry-image-datavolume Bound",
        "lastTransitionTime": "2026-01-02T03:04:05Z", "lastHeartbeatTime": "2026-01-02T03:04:05Z"},
      {"type": "Running", "status": "True", "reason": "Pod is running", "lastTransitionTime": null, "lastHeartbeatTime": null},
      {"type": "Ready", "status": "False", "reason": "TransferRunning", "message": ""}]}'
  vmi_status='{"phase": "Running", "volumeStatus": [{"name": "root", "target": "vda",
    "persistentVolumeClaimInfo": {"claimName": "fedora", "accessModes": ["ReadWriteOnce"],
      "volumeMode": "Filesystem", "capacity": {"storage": "10Gi"}, "requests": {"storage": "10Gi"},
      "filesystemOverhead": "0.055"}}]}'
  if out=$(k apply --validate=strict -n "$ns" -f "$manifests/valid/dv-registry-storage.yaml" \
      -f "$manifests/valid/vmi-datavolume.yaml" 2>&1); then
    pass
    if out=$(put_status dv registry-image-datavolume "$dv_status"); then pass; else
      fail "DataVolume status as the controller writes it" "$out"; fi
    table=$(k get dv -n "$ns" 2>&1)
    grep -qE '^NAME +PHASE +PROGRESS +RESTARTS +AGE' <<<"$table" && pass ||
      fail "kubectl get dv shows NAME PHASE PROGRESS RESTARTS AGE" "$table"
    grep -qE '^registry-image-datavolume +ImportInProgress +45\.20% +2 +[0-9]+s' <<<"$table" && pass ||
      fail "kubectl get dv shows the phase, progress and restarts" "$table"
    out=$(k get dvs -n "$ns" -o name 2>&1)
    [[ $out == datavolume.cdi.kubevirt.io/registry-image-datavolume ]] && pass || fail "short name dvs" "$out"
    out=$(k get all -n "$ns" -o name 2>&1)
    grep -qx 'datavolume.cdi.kubevirt.io/registry-image-datavolume' <<<"$out" && pass ||
      fail "kubectl get all lists DataVolumes" "$out"
    if out=$(put_status dv registry-image-datavolume '{"phase": "Succeeded", "bogus": 1}'); then
      fail "an unknown DataVolume status field is refused" "$out"
    elif grep -qF 'unknown field "status.bogus"' <<<"$out"; then pass; else
      fail "an unknown DataVolume status field is refused as unknown" "$out"; fi
    if out=$(put_status vmi vmi-datavolume "$vmi_status"); then pass; else
      fail "VMI volumeStatus of a DataVolume claim as the controller writes it" "$out"; fi
  else
    fail "create a DataVolume and a VMI for the status checks" "$out"
  fi
else
  fail "create namespace $ns" "$out"
fi

echo "datavolume: $passed passed, $failed failed"
((failed == 0))
