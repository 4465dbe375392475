#!/usr/bin/env bash
# T1: what a kubectl user sees of Vireo's CRDs on a real apiserver: apply of a
# KubeVirt-shaped manifest, short names, the "all" category and the printer
# columns, with status written through the status subresource as the
# controller will; virtctl create's manifests applied. Ends with
# "kubectl: N passed, M failed".
set -uo pipefail

dir=${VIREO_TEST_CLUSTER_DIR:?set by hack/test.sh: the harness directory}
source "$dir/env"
k() { "$BIN/kubectl" --kubeconfig="$dir/kubeconfig" "$@"; }
ns=kubectl-test-$$
passed=0 failed=0
check() { # description command...
  local what=$1; shift
  if out=$("$@" 2>&1); then passed=$((passed + 1)); else
    failed=$((failed + 1)); echo "FAIL: $what"; echo "$out" | sed 's/^/    /'; fi
}
contains() { grep -qE -- "$2" <<<"$1" || { echo "expected /$2/ in:"; echo "$1"; return 1; }; }

k create namespace "$ns" >/dev/null
trap 'k delete namespace "$ns" --wait=false >/dev/null 2>&1' EXIT

check "kubectl apply of a KubeVirt-shaped VM" k apply -n "$ns" -f - <<'YAML'
apiVersion: kubevirt.io/v1
kind: VirtualMachine
metadata:
  name: testvm
  labels: {kubevirt.io/vm: testvm}
spec:
  runStrategy: Halted
  template:
    metadata:
      labels: {kubevirt.io/domain: testvm}
    spec:
      domain:
        cpu: {cores: 1}
        devices:
          disks:
          - name: containerdisk
            disk: {bus: virtio}
          - name: cloudinitdisk
            disk: {bus: virtio}
          interfaces:
          - name: default
            masquerade: {}
        resources:
          requests: {memory: 64M}
      networks:
      - name: default
        pod: {}
      volumes:
      - name: containerdisk
        containerDisk: {image: quay.io/kubevirt/cirros-container-disk-demo}
      - name: cloudinitdisk
        cloudInitNoCloud:
          userDataBase64: SGkuXG4=
YAML

check "status written through the subresource" k patch vm testvm -n "$ns" --subresource=status \
  --type=merge -p '{"status": {"printableStatus": "Stopped", "ready": false,
    "conditions": [{"type": "Ready", "status": "False", "reason": "VMINotExists"}]}}'
vm_table() { k get vm -n "$ns" 2>&1; }
check "kubectl get vm shows NAME AGE STATUS READY" contains "$(vm_table)" '^NAME +AGE +STATUS +READY'
check "kubectl get vm shows the status and ready values" contains "$(vm_table)" '^testvm +[0-9]+s +Stopped +False'
check "short name vms" contains "$(k get vms -n "$ns" 2>&1)" '^testvm '

check "kubectl apply of a VMI" k apply -n "$ns" -f - <<'YAML'
apiVersion: kubevirt.io/v1
kind: VirtualMachineInstance
metadata:
  name: testvmi
spec:
  domain:
    devices: {}
    memory: {guest: 64Mi}
YAML
check "VMI status through the subresource" k patch vmi testvmi -n "$ns" --subresource=status --type=merge \
  -p '{"status": {"phase": "Running", "nodeName": "node1", "interfaces": [{"name": "default", "ipAddress": "10.244.0.7"}], "conditions": [{"type": "Ready", "status": "True"}]}}'
vmi_table() { k get vmi -n "$ns" 2>&1; }
check "kubectl get vmi shows NAME AGE PHASE IP NODENAME READY" contains "$(vmi_table)" '^NAME +AGE +PHASE +IP +NODENAME +READY'
check "kubectl get vmi shows the values" contains "$(vmi_table)" '^testvmi +[0-9]+s +Running +10\.244\.0\.7 +node1 +True'
check "short name vmis" contains "$(k get vmis -n "$ns" 2>&1)" '^testvmi '
check "category all lists both" contains "$(k get all -n "$ns" 2>&1)" 'virtualmachine.kubevirt.io/testvm'
check "category all lists the VMI" contains "$(k get all -n "$ns" 2>&1)" 'virtualmachineinstance.kubevirt.io/testvmi'
check "kubectl explain reads the schema" contains "$(k explain vm.spec.runStrategy 2>&1)" 'DESCRIPTION'

# virtctl create's manifests are what the apiserver takes (strict field
# validation), and a VM it makes names the instance type and preference it made.
virtctl=${VIREO_VIRTCTL_BIN:-}
if [[ -x $virtctl ]]; then
  created() { "$virtctl" create "$@" | k apply -n "$ns" --validate=strict -f -; }
  check "virtctl create instancetype | kubectl apply" created instancetype --name "$ns-it" --cpu 2 --memory 256Mi
  check "virtctl create instancetype --namespaced | kubectl apply" created instancetype --namespaced \
    --name small --cpu 1 --memory 128Mi
  check "virtctl create preference | kubectl apply" created preference --name "$ns-pref" --cpu-topology cores \
    --machine-type q35
  check "virtctl create preference --namespaced | kubectl apply" created preference --namespaced --name linux
  check "virtctl create vm with instance type, preference and volumes | kubectl apply" created vm --name made \
    --instancetype "$ns-it" --preference virtualmachinepreference/linux \
    --volume-containerdisk src:quay.io/containerdisks/fedora:40 --volume-blank size:1Gi \
    --user fedora --ssh-key "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIB made"
  check "virtctl create vm without instance type (512Mi) | kubectl apply" created vm --name plain \
    --volume-import type:http,url:http://images.example/disk.img,size:1Gi --run-strategy Halted
  check "the VM virtctl made names the instance type" contains \
    "$(k get vm made -n "$ns" -o jsonpath='{.spec.instancetype.name}/{.spec.preference.kind}' 2>&1)" \
    "^$ns-it/virtualmachinepreference\$"
  k delete virtualmachineclusterinstancetype "$ns-it" >/dev/null 2>&1
  k delete virtualmachineclusterpreference "$ns-pref" >/dev/null 2>&1
else
  failed=$((failed + 1)); echo "FAIL: VIREO_VIRTCTL_BIN names virtctl (got '$virtctl')"
fi

echo "kubectl: $passed passed, $failed failed"
((failed == 0))
