#!/usr/bin/env bash
# T1: Vireo's CRD schemas and CEL rules on a real kube-apiserver.
#
#   - every manifest in manifests/valid/ and every example in examples/ passes
#     `kubectl apply --dry-run=server`;
#   - every manifest in manifests/invalid/ is refused, and the refusal contains
#     the text of the file's first line, `# expect: <text>`, with every field
#     validation mode a client may ask for (kubectl apply --validate=strict,
#     warn and ignore: fieldValidation=Strict, Warn, Ignore; Helm and
#     client-go use Warn), so a KubeVirt field Vireo does not support is never
#     pruned and accepted; a first line `# expect-strict: <text>` instead is for
#     a field that is no KubeVirt field at all (a typo), which the apiserver
#     refuses only under Strict and otherwise prunes, as for any object;
#   - the valid manifests and examples are accepted in all three modes;
#   - `kubectl explain` reads well for a few paths;
#   - status as the controller writes it passes the status subresource.
#
# Needs the CRDs installed (tests/integration/apiserver.sh does that) and
#   KUBECONFIG  a cluster-admin kubeconfig    KUBECTL  path to kubectl
# or, as hack/test.sh runs it, VIREO_TEST_CLUSTER_DIR (the harness directory),
# from which both are taken. unsupported_fields_test.py tries every field of
# crds/src/unsupported.yaml the same way.
# Ends with "crd_validation: N passed, M failed"; exits non-zero if M > 0.
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
manifests=$here/manifests
# shellcheck source=lib.sh
source "$here/lib.sh"
t1_cluster crd_validation

# The apiserver must know both CRDs, or every "refused" below would be for the
# wrong reason.
for crd in virtualmachines.kubevirt.io virtualmachineinstances.kubevirt.io; do
  if out=$(k get crd "$crd" -o name 2>&1); then pass; else fail "CRD $crd is installed" "$out"; fi
done

# ... and they must be the committed ones, or this run tests something else.
crds=$(cd "$here/../../crds" && pwd)
if out=$(k diff -f "$crds/" 2>&1); then pass; else
  fail "the installed CRDs are crds/*.yaml (kubectl apply -f crds/)" "$(head -n 30 <<<"$out")"; fi

shopt -s nullglob
valid=("$manifests"/valid/*.yaml)
invalid=("$manifests"/invalid/*.yaml)
# A run over empty directories would prove nothing.
((${#valid[@]} >= 5)) && pass || fail "at least 5 valid manifests (found ${#valid[@]})"
((${#invalid[@]} >= 20)) && pass || fail "at least 20 invalid manifests (found ${#invalid[@]})"

modes=(strict warn ignore)
for f in "${valid[@]}"; do
  name=valid/$(basename "$f")
  for mode in "${modes[@]}"; do
    if out=$(k apply --dry-run=server --validate="$mode" -f "$f" 2>&1); then pass; else
      fail "$name is accepted with --validate=$mode" "$out"; fi
  done
done

# The examples users apply first (examples/*.yaml, each of them possibly
# several objects) are accepted as they are.
examples=("$here"/../../examples/*.yaml)
((${#examples[@]} >= 3)) && pass || fail "at least 3 examples in examples/ (found ${#examples[@]})"
for f in "${examples[@]}"; do
  name=examples/$(basename "$f")
  for mode in "${modes[@]}"; do
    if out=$(k apply --dry-run=server --validate="$mode" -f "$f" 2>&1); then pass; else
      fail "$name is accepted with --validate=$mode" "$out"; fi
  done
done

for f in "${invalid[@]}"; do
  name=invalid/$(basename "$f")
  first=$(head -n 1 "$f")
  case $first in
    "# expect: "*) expect=${first#\# expect: } f_modes=("${modes[@]}") ;;
    "# expect-strict: "*) expect=${first#\# expect-strict: } f_modes=(strict) ;;
    *) expect= ;;
  esac
  if [[ -z ${expect// /} ]]; then
    fail "$name starts with '# expect: <part of the error>' (or '# expect-strict: ')" "first line: $first"
    continue
  fi
  for mode in "${f_modes[@]}"; do
    if out=$(k apply --dry-run=server --validate="$mode" -f "$f" 2>&1); then
      fail "$name is refused with --validate=$mode" "$out"
    elif ! grep -qF -- "$expect" <<<"$out"; then
      fail "$name is refused with --validate=$mode with '$expect'" "$out"
    elif grep -qiE 'unable to recognize|no matches for kind|connection refused|Unauthorized|forbidden:.*cannot' <<<"$out"; then
      fail "$name is refused by the schema, not by the client or the server's setup" "$out"
    else
      pass
    fi
  done
done

# kubectl explain: the schema's descriptions reach a reader.
explain vm.spec.runStrategy 'KIND: +VirtualMachine' 'FIELD: +runStrategy <string>' \
  'ENUM:' 'RerunOnFailure' 'Halted' 'mutually|not both'
explain vm.spec.running 'FIELD: +running <boolean>' 'runStrategy'
explain vmi.spec.domain.devices.disks 'KIND: +VirtualMachineInstance' 'FIELD: +disks <\[\]Object>' \
  'volume of the same name' 'bootOrder' 'cdrom' 'name.*-required-'
explain vm.spec.template.spec.domain.devices.disks 'KIND: +VirtualMachine' 'volume of the same name' 'serial'
explain vmi.spec.domain.devices.disks.disk.bus 'ENUM:' 'virtio' 'sata' 'scsi'
explain vmi.spec.volumes 'containerDisk' 'persistentVolumeClaim' 'cloudInitNoCloud' 'emptyDisk' 'exactly one'
explain vmi.spec.domain.devices.interfaces.masquerade 'NAT|pod'
explain vmi.spec.affinity 'core Kubernetes'
explain vm.status 'printableStatus' 'ready' 'stateChangeRequests' 'observedGeneration'
explain vmi.status 'phase' 'nodeName' 'interfaces' 'conditions'
explain vm.spec.instancetype 'FIELD: +instancetype <Object>' 'vCPUs, memory' 'next start'
explain vmcf.spec.cpu.guest 'KIND: +VirtualMachineClusterInstancetype' 'FIELD: +guest <integer>' 'preferredCPUTopology'
explain vmp.spec.devices.preferredDiskBus 'KIND: +VirtualMachinePreference' 'ENUM:' 'sata'

# The VM's template spec and the VMI spec are one schema: their field lists match.
a=$(fields vmi.spec) b=$(fields vm.spec.template.spec)
if [[ -n $a && $a == "$b" ]]; then pass; else
  fail "vm.spec.template.spec and vmi.spec have the same fields" "$(diff <(echo "$a") <(echo "$b") | head -20)"; fi

# Status as vireo-controller writes it (KubeVirt's field names) goes through
# the status subresource under strict field validation; an unknown status
# field is refused. Needs real objects, so a scratch namespace.
ns=crd-validation-$$
if out=$(k create namespace "$ns" 2>&1); then
  trap 'k delete namespace "$ns" --wait=false >/dev/null 2>&1' EXIT
  vm_status='{"printableStatus": "Running", "created": true, "ready": true,
    "conditions": [{"type": "Ready", "status": "True", "lastProbeTime": null,
      "lastTransitionTime": "2026-01-02T03:04:05Z", "reason": "", "message": ""}],
    "stateChangeRequests": [{"action": "Stop", "uid": "6f1d2a52-0000-4000-8000-000000000001"},
      {"action": "Start", "data": {"reason": "restart"}}],
    "startFailure": {"consecutiveFailCount": 2, "lastFailedVMIUID": "6f1d2a52-0000-4000-8000-000000000001",
      "retryAfterTimestamp": "2026-01-02T03:04:05Z"},
    "runStrategy": "Always", "observedGeneration": 1, "desiredGeneration": 1}'
  vmi_status='{"phase": "Running", "reason": "", "nodeName": "node1",
    "phaseTransitionTimestamps": [{"phase": "Pending", "phaseTransitionTimestamp": "2026-01-02T03:04:00Z"},
      {"phase": "Running", "phaseTransitionTimestamp": "2026-01-02T03:04:05Z"}],
    "conditions": [{"type": "Ready", "status": "True", "lastProbeTime": null, "lastTransitionTime": null},
      {"type": "LiveMigratable", "status": "False", "reason": "NotMigratable", "lastProbeTime": null,
       "lastTransitionTime": null}],
    "interfaces": [{"name": "default", "ipAddress": "10.244.0.7", "ipAddresses": ["10.244.0.7"],
      "mac": "02:00:00:0a:0b:0c", "interfaceName": "eth0", "infoSource": "domain",
      "podInterfaceName": "eth0", "queueCount": 1, "linkState": "up"}],
    "guestOSInfo": {}, "qosClass": "Burstable", "launcherContainerImageVersion": "vireo-launcher:dev",
    "activePods": {"6f1d2a52-0000-4000-8000-000000000002": "node1"},
    "volumeStatus": [{"name": "containerdisk", "target": "vda", "size": 46137344},
      {"name": "data", "target": "vdb", "persistentVolumeClaimInfo": {"claimName": "data",
        "accessModes": ["ReadWriteOnce"], "volumeMode": "Filesystem", "capacity": {"storage": "1Gi"},
        "requests": {"storage": "1Gi"}}}],
    "machine": {"type": "pc-q35-7.2"}, "currentCPUTopology": {"cores": 1, "sockets": 1, "threads": 1},
    "memory": {"guestAtBoot": "128Mi", "guestCurrent": "128Mi", "guestRequested": "128Mi"},
    "runtimeUser": 0}'
  if out=$(k apply -n "$ns" -f "$manifests/valid/vm-cirros-containerdisk-cloudinit.yaml" \
      -f "$manifests/valid/vmi-nocloud-base64.yaml" 2>&1); then
    if out=$(put_status vm cirros "$vm_status"); then pass; else fail "VM status as the controller writes it" "$out"; fi
    if out=$(put_status vmi vmi-nocloud "$vmi_status"); then pass; else fail "VMI status as the controller writes it" "$out"; fi
    # The columns KubeVirt's CRDs print, -o wide adding Live-Migratable and Paused.
    out=$(k get vmi vmi-nocloud -n "$ns" -o wide 2>&1)
    if grep -qE '^NAME +AGE +PHASE +IP +NODENAME +READY +LIVE-MIGRATABLE +PAUSED$' <<<"$(head -1 <<<"$out")" &&
      grep -qE '^vmi-nocloud +[0-9a-z]+ +Running +10\.244\.0\.7 +node1 +True +False *$' <<<"$(tail -1 <<<"$out")"; then
      pass; else fail "kubectl get vmi -o wide shows KubeVirt's columns" "$out"; fi
    out=$(k get vmi vmi-nocloud -n "$ns" 2>&1)
    if grep -qE '^NAME +AGE +PHASE +IP +NODENAME +READY$' <<<"$(head -1 <<<"$out")"; then pass; else
      fail "kubectl get vmi shows KubeVirt's default columns" "$out"; fi
    out=$(k get vm cirros -n "$ns" -o wide 2>&1)
    if grep -qE '^NAME +AGE +STATUS +READY$' <<<"$(head -1 <<<"$out")" &&
      grep -qE '^cirros +[0-9a-z]+ +Running +True$' <<<"$(tail -1 <<<"$out")"; then pass; else
      fail "kubectl get vm -o wide shows KubeVirt's columns" "$out"; fi
    if out=$(put_status vm cirros '{"printableStatus": "Running", "bogus": 1}'); then
      fail "an unknown VM status field is refused" "$out"
    elif grep -qF 'unknown field "status.bogus"' <<<"$out"; then pass; else
      fail "an unknown VM status field is refused as unknown" "$out"; fi
  else
    fail "create a VM and a VMI for the status checks" "$out"
  fi
else
  fail "create namespace $ns" "$out"
fi

echo "crd_validation: $passed passed, $failed failed"
((failed == 0))
