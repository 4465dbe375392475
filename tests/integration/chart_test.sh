#!/usr/bin/env bash
# T0: the Helm chart manifests/chart and what is rendered from it.
#
#   - `helm lint` (also --strict) is clean;
#   - manifests/vireo.yaml (the kubectl bundle), manifests/rbac/*.yaml (the
#     controller's RBAC, which the T1 tests apply) and
#     manifests/vm-finalizer-policy.yaml are exactly what
#     hack/gen-bundle.sh renders from the chart now: the chart is the one
#     source of the RBAC rules;
#   - `helm template` with the default values and with a few value sets:
#     replicas, images, emulation (a bad value fails with a clear message),
#     log level, workers, scheduling values, the release namespace in every
#     namespaced object and RBAC subject, the pod's security context.
#
#   chart_test.sh           the checks above (suite unit: no apiserver)
#   chart_test.sh --server  against the T1 harness (VIREO_TEST_CLUSTER_DIR):
#                           `kubectl apply --dry-run=server` of manifests/vireo.yaml,
#                           and of a render into a namespace that enforces the
#                           restricted Pod Security Standard, without a warning;
#                           `helm install --dry-run=server`: NOTES.txt, and a bad
#                           value refused before anything is made; `helm install`
#                           of a chart whose VM and VMI carry KubeVirt fields
#                           Vireo does not support is refused, naming them
#
# helm: $HELM if set, else the one hack/build-upstream.sh builds.
# Ends with "chart: N passed, M failed"; exits non-zero if M > 0.
set -uo pipefail

root=${VIREO_SOURCE_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
chart=$root/manifests/chart
python=/usr/bin/python3
tmp=$(mktemp -d)
cleanup() { rm -rf "$tmp"; }
trap cleanup EXIT
passed=0 failed=0
pass() { passed=$((passed + 1)); }
fail() { failed=$((failed + 1)); echo "FAIL: $1"; [[ -n ${2:-} ]] && sed 's/^/    /' <<<"$2"; }
finish() { echo "chart: $passed passed, $failed failed"; ((failed == 0)); exit; }

if [[ -n ${HELM:-} ]]; then helm=$HELM; else
  if ! bin=$("$root/hack/build-upstream.sh" 2>"$tmp/build.log"); then
    fail "hack/build-upstream.sh provides helm" "$(tail -n 20 "$tmp/build.log")"
    finish
  fi
  helm=$bin/helm
fi
export HELM=$helm

# ---------------------------------------------------------------- --server --
if [[ ${1:-} == --server ]]; then
  dir=${VIREO_TEST_CLUSTER_DIR:?--server needs VIREO_TEST_CLUSTER_DIR: the harness directory}
  # shellcheck disable=SC1091
  source "$dir/env"
  k() { "$BIN/kubectl" --kubeconfig="$dir/kubeconfig" "$@"; }
  # A server-side dry run creates nothing, so the bundle's objects in
  # vireo-system need the namespace to exist already (the T1 controller tests
  # use it too, and never delete it).
  k get namespace vireo-system >/dev/null 2>&1 || k create namespace vireo-system >/dev/null 2>&1
  if out=$(k apply --dry-run=server -f "$root/manifests/vireo.yaml" 2>&1); then pass; else
    fail "the apiserver accepts manifests/vireo.yaml (kubectl apply --dry-run=server)" "$out"; fi
  for kind in namespace/vireo-system customresourcedefinition.apiextensions.k8s.io/virtualmachines.kubevirt.io \
      serviceaccount/vireo-controller clusterrole.rbac.authorization.k8s.io/vireo-controller \
      role.rbac.authorization.k8s.io/vireo-controller-leader-election deployment.apps/vireo-controller; do
    grep -qF "$kind" <<<"$out" && pass || fail "the dry run of manifests/vireo.yaml names $kind" "$out"
  done
  # The controller's pod passes the restricted Pod Security Standard: the
  # admission warns ("would violate PodSecurity") on a Deployment that breaks it.
  ns=chart-test-$$
  if out=$(k create namespace "$ns" 2>&1); then
    trap 'k delete namespace "$ns" --wait=false >/dev/null 2>&1; cleanup' EXIT
    k label namespace "$ns" pod-security.kubernetes.io/enforce=restricted \
      pod-security.kubernetes.io/warn=restricted >/dev/null
    # The controller alone: the KVM device plugin needs hostPath and root
    # (the bundle's namespace is privileged for it; docs/chart.md).
    if ! out=$("$helm" template vireo "$chart" --namespace "$ns" --set kvmDevicePlugin.enabled=false 2>&1); then
      fail "helm template -n $ns" "$out"
    elif ! out=$(k apply --dry-run=server -f - <<<"$out" 2>&1); then
      fail "the apiserver accepts the chart rendered into namespace $ns" "$out"
    elif grep -qi 'PodSecurity' <<<"$out"; then
      fail "the controller Deployment meets the restricted Pod Security Standard" "$out"
    else
      pass
    fi
    # helm install (dry run: renders against the server, creates nothing)
    # prints NOTES.txt, and refuses a bad value before anything is made. The
    # release name differs from "vireo", so its cluster-wide names do not
    # meet the RBAC the other T1 tests applied.
    helm_k() { "$helm" --kubeconfig "$dir/kubeconfig" "$@"; }
    if out=$(helm_k install "ct$$" "$chart" --namespace "$ns" --dry-run=server 2>&1); then
      for want in "installed in namespace $ns" "kubectl apply -f examples/vm-containerdisk.yaml" \
          "virtctl console testvm" "deployment/ct$$-vireo-controller"; do
        grep -qF -- "$want" <<<"$out" && pass || fail "NOTES.txt says '$want'" "$out"
      done
    else
      fail "helm install --dry-run=server" "$out"
    fi
    if out=$(helm_k install "ct$$" "$chart" --namespace "$ns" --dry-run=server --set emulation=bogus 2>&1); then
      fail "helm install --set emulation=bogus fails" "$(head -n 5 <<<"$out")"
    elif grep -qF 'emulation: "bogus" is not one of auto, on, off' <<<"$out"; then pass; else
      fail "helm install --set emulation=bogus names the value" "$out"; fi
    # A chart that carries a KubeVirt VM with a field Vireo does not support
    # (tpm) and a VMI with another, inside a list item (a LUN disk): Helm
    # sends fieldValidation=Warn, which would prune an undeclared field and
    # install the VM without it. The CRDs refuse both, naming them; the same
    # chart without those fields installs.
    mkdir -p "$tmp/vmchart/templates"
    printf 'apiVersion: v2\nname: vmchart\nversion: 0.1.0\n' >"$tmp/vmchart/Chart.yaml"
    printf 'tpm: true\n' >"$tmp/vmchart/values.yaml"
    cat >"$tmp/vmchart/templates/vm.yaml" <<'YAML'
apiVersion: kubevirt.io/v1
kind: VirtualMachine
metadata:
  name: {{ .Release.Name }}-vm
spec:
  runStrategy: Halted
  template:
    spec:
      domain:
        devices:
          disks:
          - name: containerdisk
            disk: {bus: virtio}
          {{- if .Values.tpm }}
          tpm: {}
          {{- end }}
        resources:
          requests: {memory: 128Mi}
      volumes:
      - name: containerdisk
        containerDisk: {image: quay.io/kubevirt/cirros-container-disk-demo}
---
apiVersion: kubevirt.io/v1
kind: VirtualMachineInstance
metadata:
  name: {{ .Release.Name }}-vmi
spec:
  domain:
    devices:
      disks:
      - name: containerdisk
        disk: {bus: virtio}
      - name: data
        {{- if .Values.tpm }}
        lun: {}
        {{- else }}
        disk: {}
        {{- end }}
    memory: {guest: 128Mi}
  volumes:
  - name: containerdisk
    containerDisk: {image: quay.io/kubevirt/cirros-container-disk-demo}
  - name: data
    emptyDisk: {capacity: 1Gi}
YAML
    if out=$(helm_k install "vm$$" "$tmp/vmchart" --namespace "$ns" 2>&1); then
      fail "helm install of a chart with a VM that has tpm is refused" "$out"
    else
      for want in 'spec.template.spec.domain.devices.tpm: Invalid value: Vireo does not support domain.devices.tpm' \
          'spec.domain.devices.disks[1].lun: Invalid value: Vireo does not support domain.devices.disks[].lun'; do
        grep -qF -- "$want" <<<"$out" && pass || fail "helm install says '$want'" "$out"
      done
    fi
    if out=$(k get vm,vmi -n "$ns" -o name 2>&1) && [[ -z $out ]]; then pass; else
      fail "the refused helm install made no VM and no VMI" "$out"; fi
    helm_k uninstall "vm$$" --namespace "$ns" >/dev/null 2>&1
    if out=$(helm_k install "vm$$" "$tmp/vmchart" --namespace "$ns" --set tpm=false 2>&1) &&
        out=$(k get vm "vm$$-vm" -n "$ns" -o name 2>&1); then pass; else
      fail "helm install of the same chart without tpm and lun" "$out"; fi
    helm_k uninstall "vm$$" --namespace "$ns" >/dev/null 2>&1
  else
    fail "create namespace $ns" "$out"
  fi
  finish
fi

# ------------------------------------------------------------------ offline --
# helm lint: no error, and no warning either (--strict turns warnings into errors).
for strict in "" --strict; do
  if out=$("$helm" lint $strict "$chart" 2>&1) && grep -q '1 chart(s) linted, 0 chart(s) failed' <<<"$out" &&
      ! grep -q '^\[WARNING\]\|^\[ERROR\]' <<<"$out"; then pass; else
    fail "helm lint $strict manifests/chart is clean" "$out"; fi
done

# The rendered files are current.
if out=$("$root/hack/gen-bundle.sh" --out "$tmp/gen" 2>&1); then pass; else
  fail "hack/gen-bundle.sh runs" "$out"; fi
if out=$(diff -u "$root/manifests/vireo.yaml" "$tmp/gen/vireo.yaml" 2>&1); then pass; else
  fail "manifests/vireo.yaml is what the chart renders (run hack/gen-bundle.sh)" "$(head -n 40 <<<"$out")"; fi
if out=$(diff -u "$root/manifests/vm-finalizer-policy.yaml" "$tmp/gen/vm-finalizer-policy.yaml" 2>&1); then pass; else
  fail "manifests/vm-finalizer-policy.yaml is what the chart renders (run hack/gen-bundle.sh)" "$(head -n 40 <<<"$out")"; fi
shopt -s nullglob
for f in "$tmp"/gen/rbac/*.yaml; do
  name=manifests/rbac/$(basename "$f")
  if out=$(diff -u "$root/$name" "$f" 2>&1); then pass; else
    fail "$name is what the chart renders (run hack/gen-bundle.sh)" "$(head -n 40 <<<"$out")"; fi
done
# A file in manifests/rbac/ that the chart does not make would be applied by
# the tests but installed by nobody.
for f in "$root"/manifests/rbac/*; do
  [[ -f $tmp/gen/rbac/$(basename "$f") ]] && pass ||
    fail "manifests/rbac/$(basename "$f") is rendered from manifests/chart/templates/rbac/"
done
# The bundle starts with the Namespace, then the CRDs (kubectl applies in order).
kinds=$(grep -E '^kind: ' "$root/manifests/vireo.yaml" | cut -d' ' -f2 | tr '\n' ' ')
want='Namespace CustomResourceDefinition CustomResourceDefinition CustomResourceDefinition CustomResourceDefinition CustomResourceDefinition CustomResourceDefinition CustomResourceDefinition ServiceAccount ClusterRole ClusterRoleBinding Role RoleBinding DaemonSet Deployment '
[[ $kinds == "$want" ]] && pass || fail "manifests/vireo.yaml holds, in order: $want" "found: $kinds"

# The chart's CRDs are the committed ones (crds_in_sync.sh checks both against crds/src/).
for f in "$root"/crds/*.yaml; do
  cmp -s "$f" "$chart/crds/$(basename "$f")" && pass ||
    fail "manifests/chart/crds/$(basename "$f") is crds/$(basename "$f") (run hack/gen-crds.py)"
done

# check DESCRIPTION RENDERED EXPR WANT: EXPR, a Python expression over the
# rendered objects, has the JSON value WANT. Names: docs (every object),
# obj(kind) (the one object of that kind), dep, pod (its pod spec), c (the
# controller container), args (its args as a dict flag -> value).
check() {
  local what=$1 rendered=$2 expr=$3 want=$4 got
  got=$("$python" -c '
import json, sys, yaml
docs = [d for d in yaml.safe_load_all(sys.stdin) if d]
def obj(kind):
    found = [d for d in docs if d["kind"] == kind]
    assert len(found) == 1, f"{len(found)} objects of kind {kind}"
    return found[0]
dep = obj("Deployment")
pod = dep["spec"]["template"]["spec"]
c = pod["containers"][0]
args = {}
for a in c.get("args", []):
    k, _, v = a.partition("=")
    args[k] = v if _ else True
print(json.dumps(eval(sys.argv[1]), sort_keys=True))' "$expr" <<<"$rendered" 2>&1)
  local want_json
  want_json=$("$python" -c 'import json, sys; print(json.dumps(json.loads(sys.argv[1]), sort_keys=True))' "$want")
  if [[ $got == "$want_json" ]]; then pass; else fail "$what: $expr" "want $want_json"$'\n'"got  $got"; fi
}
template() { "$helm" template vireo "$chart" --namespace "${ns:-vireo-system}" "$@" 2>&1; }

# Default values.
ns=vireo-system
if r=$(template); then pass; else fail "helm template with the default values" "$r"; fi
check "defaults" "$r" 'dep["spec"]["replicas"]' 1
check "defaults" "$r" 'c["image"]' '"vireo.local/vireo-controller:0.1.0"'
check "defaults" "$r" 'c["imagePullPolicy"]' '"IfNotPresent"'
check "defaults" "$r" 'args["--launcher-image"]' '"vireo.local/vireo-launcher:0.1.0"'
check "defaults" "$r" '[args["--emulation"], args["--log-level"], args["--workers"]]' '["auto", "info", "16"]'
check "defaults" "$r" '[args["--leader-elect"], args["--leader-elect-namespace"], args["--leader-elect-name"]]' \
  '[true, "vireo-system", "vireo-controller"]'
check "defaults" "$r" '[args["--metrics-bind-address"], args["--health-probe-bind-address"]]' '[":8080", ":8081"]'
check "defaults" "$r" '"--namespace" in args' false
check "defaults" "$r" '"--launcher-seccomp-profile" in args' false
check "defaults" "$r" 'args["--launcher-memory-overhead-margin"]' '"16Mi"'
check "defaults" "$r" 'c["livenessProbe"]["httpGet"]' '{"path": "/healthz", "port": "health"}'
check "defaults" "$r" 'c["readinessProbe"]["httpGet"]' '{"path": "/readyz", "port": "health"}'
check "defaults" "$r" '{p["name"]: p["containerPort"] for p in c["ports"]}' '{"health": 8081, "metrics": 8080}'
check "defaults" "$r" 'pod["securityContext"]["runAsNonRoot"] and pod["securityContext"]["runAsUser"]' 65532
check "defaults" "$r" 'c["securityContext"]' \
  '{"allowPrivilegeEscalation": false, "readOnlyRootFilesystem": true, "runAsNonRoot": true, "runAsUser": 65532, "capabilities": {"drop": ["ALL"]}}'
check "defaults" "$r" 'pod["serviceAccountName"]' '"vireo-controller"'
check "defaults" "$r" '[e["name"] for e in c["env"]]' '["POD_NAME", "POD_NAMESPACE"]'
check "defaults" "$r" '[k in pod for k in ("nodeSelector", "tolerations", "affinity")]' '[false, false, false]'
check "defaults" "$r" 'dep["spec"]["selector"]["matchLabels"].items() <= dep["spec"]["template"]["metadata"]["labels"].items()' true
check "defaults" "$r" 'sorted(d["kind"] for d in docs)' \
  '["ClusterRole", "ClusterRoleBinding", "DaemonSet", "Deployment", "Role", "RoleBinding", "ServiceAccount"]'

# Monitoring: a PodMonitor for the launcher pods' metrics port, a Service and
# ServiceMonitor for the controller's, and the Grafana dashboard.
r=$(template --set monitoring.podMonitor.enabled=true --set monitoring.serviceMonitor.enabled=true \
  --set monitoring.grafanaDashboard.enabled=true --set monitoring.podMonitor.labels.release=prom)
check "monitoring" "$r" 'obj("PodMonitor")["spec"]["selector"]' '{"matchLabels": {"kubevirt.io": "virt-launcher"}}'
check "monitoring" "$r" 'obj("PodMonitor")["spec"]["podMetricsEndpoints"]' '[{"port": "metrics", "path": "/metrics", "interval": "30s"}]'
check "monitoring" "$r" '[obj("PodMonitor")["spec"]["namespaceSelector"], obj("PodMonitor")["metadata"]["labels"]["release"]]' '[{"any": true}, "prom"]'
check "monitoring" "$r" 'obj("Service")["spec"]["ports"]' '[{"name": "metrics", "port": 8080, "targetPort": "metrics"}]'
check "monitoring" "$r" 'obj("Service")["spec"]["selector"].items() <= dep["spec"]["template"]["metadata"]["labels"].items()' true
check "monitoring" "$r" 'obj("ServiceMonitor")["spec"]["endpoints"][0]["port"]' '"metrics"'
check "monitoring" "$r" 'obj("ServiceMonitor")["spec"]["selector"]["matchLabels"] == obj("Service")["metadata"]["labels"] or obj("ServiceMonitor")["spec"]["selector"]["matchLabels"].items() <= obj("Service")["metadata"]["labels"].items()' true
check "monitoring" "$r" 'obj("ConfigMap")["metadata"]["labels"]["grafana_dashboard"]' '"1"'
check "monitoring" "$r" 'json.loads(obj("ConfigMap")["data"]["vireo-vms.json"])["uid"]' '"vireo-vms"'
check "monitoring" "$r" 'sorted({m for p in json.loads(obj("ConfigMap")["data"]["vireo-vms.json"])["panels"] for t in p["targets"] for m in __import__("re").findall(r"kubevirt_vmi_[a-z_]+", t["expr"])})' \
  '["kubevirt_vmi_memory_domain_bytes", "kubevirt_vmi_memory_resident_bytes", "kubevirt_vmi_network_receive_bytes_total", "kubevirt_vmi_network_transmit_bytes_total", "kubevirt_vmi_phase_count", "kubevirt_vmi_storage_iops_read_total", "kubevirt_vmi_storage_iops_write_total", "kubevirt_vmi_storage_read_traffic_bytes_total", "kubevirt_vmi_storage_write_traffic_bytes_total", "kubevirt_vmi_vcpu_seconds_total"]'

# The KVM device plugin (on by default) and --kvm-resource-offered.
check "defaults" "$r" 'args["--kvm-resource-offered"]' '"true"'
ds='obj("DaemonSet")["spec"]["template"]["spec"]'
check "kvm plugin" "$r" "$ds"'["containers"][0]["image"]' '"vireo.local/generic-device-plugin:0.1.0"'
check "kvm plugin" "$r" '[a for a in '"$ds"'["containers"][0]["args"] if a.startswith("--device=")]' \
  '["--device={\"groups\":[{\"count\":1000,\"paths\":[{\"optional\":true,\"path\":\"/dev/kvm\"},{\"path\":\"/dev/null\"}]}],\"name\":\"kvm\"}"]'
check "kvm plugin" "$r" '"--domain=devices.kubevirt.io" in '"$ds"'["containers"][0]["args"]' true
check "kvm plugin" "$r" "$ds"'["containers"][0]["securityContext"]' \
  '{"allowPrivilegeEscalation": false, "readOnlyRootFilesystem": true, "capabilities": {"drop": ["ALL"]}}'
check "kvm plugin" "$r" 'sorted(v["hostPath"]["path"] for v in '"$ds"'["volumes"])' '["/dev", "/var/lib/kubelet/device-plugins"]'
check "kvm plugin" "$r" '['"$ds"'["priorityClassName"], '"$ds"'["tolerations"]]' '["system-node-critical", [{"operator": "Exists"}]]'
check "kvm plugin" "$r" 'obj("DaemonSet")["spec"]["selector"]["matchLabels"]["app.kubernetes.io/component"]' '"kvm-device-plugin"'
r=$(template --set kvmDevicePlugin.enabled=false)
check "no kvm plugin" "$r" '[d["kind"] for d in docs if d["kind"] == "DaemonSet"]' '[]'
check "no kvm plugin" "$r" 'args["--kvm-resource-offered"]' '"false"'
r=$(template --set kvmDevicePlugin.enabled=false --set kvmResourceOffered=true)
check "KubeVirt's plugin" "$r" 'args["--kvm-resource-offered"]' '"true"'
r=$(template --set kvmDevicePlugin.devicesPerNode=110 --set kvmDevicePlugin.image.tag=x)
check "kvm plugin values" "$r" 'obj("DaemonSet")["spec"]["template"]["spec"]["containers"][0]["image"]' '"vireo.local/generic-device-plugin:x"'
check "kvm plugin values" "$r" '"\"count\":110" in [a for a in obj("DaemonSet")["spec"]["template"]["spec"]["containers"][0]["args"] if a.startswith("--device=")][0]' true
for bad in "kvmResourceOffered=maybe|kvmResourceOffered: \"maybe\" is not true or false" \
    "kvmDevicePlugin.devicesPerNode=0|kvmDevicePlugin.devicesPerNode: \"0\" is not a whole number" \
    "kvmDevicePlugin.image.pullPolicy=Sometimes|kvmDevicePlugin.image.pullPolicy: \"Sometimes\" is not one of"; do
  if out=$(template --set "${bad%%|*}"); then fail "--set ${bad%%|*} fails" "$out"
  elif grep -qF -- "${bad#*|}" <<<"$out"; then pass; else fail "--set ${bad%%|*} says why" "$out"; fi
done

# Another release namespace reaches every namespaced object and every subject.
ns=vms-operator
r=$(template)
check "namespace vms-operator" "$r" \
  'sorted({d["metadata"].get("namespace", "-") for d in docs if d["kind"] not in ("ClusterRole", "ClusterRoleBinding")})' \
  '["vms-operator"]'
check "namespace vms-operator" "$r" '[s["namespace"] for d in docs for s in d.get("subjects", [])]' \
  '["vms-operator", "vms-operator"]'
check "namespace vms-operator" "$r" 'args["--leader-elect-namespace"]' '"vms-operator"'
ns=vireo-system

# Value sets.
r=$(template --set replicas=2)
check "replicas=2" "$r" 'dep["spec"]["replicas"]' 2
r=$(template --set launcher.image.repository=registry.example/vireo-launcher --set launcher.image.tag=dev-7)
check "launcher.image" "$r" 'args["--launcher-image"]' '"registry.example/vireo-launcher:dev-7"'
r=$(template --set launcher.seccompProfile=vireo/launcher.json)
check "launcher.seccompProfile" "$r" 'args["--launcher-seccomp-profile"]' '"vireo/launcher.json"'
for bad in /var/lib/kubelet/seccomp/l.json vireo/../l.json ..; do
  if out=$(template --set "launcher.seccompProfile=$bad"); then fail "--set launcher.seccompProfile=$bad fails" "$out"
  elif grep -qF -- "launcher.seccompProfile: \"$bad\" is not a path relative" <<<"$out"; then pass
  else fail "--set launcher.seccompProfile=$bad says why" "$out"; fi
done
r=$(template --set launcher.memoryOverheadMargin=64Mi)
check "launcher.memoryOverheadMargin" "$r" 'args["--launcher-memory-overhead-margin"]' '"64Mi"'
# A number in a values file is whole bytes, not a float's notation.
printf 'launcher:\n  memoryOverheadMargin: 16777216\n' >"$tmp/margin-values.yaml"
r=$(template -f "$tmp/margin-values.yaml")
check "launcher.memoryOverheadMargin as a number" "$r" 'args["--launcher-memory-overhead-margin"]' '"16777216"'
for bad in lots -1Mi 16MiB -5; do
  if out=$(template --set "launcher.memoryOverheadMargin=$bad"); then fail "--set launcher.memoryOverheadMargin=$bad fails" "$out"
  elif grep -qF -- "launcher.memoryOverheadMargin: \"$bad\" is not a memory quantity" <<<"$out"; then pass
  else fail "--set launcher.memoryOverheadMargin=$bad says why" "$out"; fi
done
r=$(template --set controller.image.repository=registry.example/ctl --set controller.image.tag=dev-7 \
  --set controller.image.pullPolicy=Always)
check "controller.image" "$r" '[c["image"], c["imagePullPolicy"]]' '["registry.example/ctl:dev-7", "Always"]'
for mode in on off auto; do
  r=$(template --set emulation=$mode)
  check "emulation=$mode" "$r" 'args["--emulation"]' "\"$mode\""
done
r=$(template --set logLevel=debug --set workers=8 --set watchNamespace=vms)
check "logLevel, workers, watchNamespace" "$r" '[args["--log-level"], args["--workers"], args["--namespace"]]' \
  '["debug", "8", "vms"]'
# The VM finalizer's MutatingAdmissionPolicy: where the cluster serves the
# API (helm template's own list of APIs does not have it), or when forced;
# not without the API, nor when it is off.
policy_kinds() { "$python" -c '
import sys, yaml
docs = [d for d in yaml.safe_load_all(sys.stdin) if d]
print(" ".join(sorted(d["kind"] for d in docs if d["kind"].startswith("MutatingAdmissionPolicy"))))'; }
mapi=admissionregistration.k8s.io/v1/MutatingAdmissionPolicy
for args in "--api-versions $mapi" "--set vmFinalizerPolicy=true" "" "--set vmFinalizerPolicy=false --api-versions $mapi"; do
  # shellcheck disable=SC2086
  r=$(template $args)
  got=$(policy_kinds <<<"$r")
  want="MutatingAdmissionPolicy MutatingAdmissionPolicyBinding"
  [[ -z $args || $args == *=false* ]] && want=""
  [[ $got == "$want" ]] && pass || fail "vmFinalizerPolicy with $args renders [$want]" "got [$got]"
done
r=$(template --api-versions "$mapi" --set watchNamespace=vms)
got=$("$python" -c '
import sys, yaml
docs = [d for d in yaml.safe_load_all(sys.stdin) if d and d["kind"] == "MutatingAdmissionPolicy"]
print(docs[0]["spec"]["matchConstraints"]["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"])' <<<"$r" 2>&1)
[[ $got == vms ]] && pass || fail "the finalizer policy follows watchNamespace" "$got"
cat >"$tmp/scheduling.yaml" <<'YAML'
nodeSelector: {kubernetes.io/os: linux}
tolerations: [{key: node-role.kubernetes.io/control-plane, operator: Exists, effect: NoSchedule}]
affinity:
  podAntiAffinity:
    preferredDuringSchedulingIgnoredDuringExecution:
      - weight: 100
        podAffinityTerm:
          topologyKey: kubernetes.io/hostname
          labelSelector: {matchLabels: {app.kubernetes.io/component: controller}}
resources: {requests: {cpu: 10m, memory: 32Mi}, limits: {memory: 128Mi}}
YAML
r=$(template -f "$tmp/scheduling.yaml")
check "scheduling values" "$r" 'pod["nodeSelector"]' '{"kubernetes.io/os": "linux"}'
check "scheduling values" "$r" 'pod["tolerations"][0]["key"]' '"node-role.kubernetes.io/control-plane"'
check "scheduling values" "$r" 'pod["affinity"]["podAntiAffinity"]["preferredDuringSchedulingIgnoredDuringExecution"][0]["weight"]' 100
check "scheduling values" "$r" 'c["resources"]' '{"requests": {"cpu": "10m", "memory": "32Mi"}, "limits": {"memory": "128Mi"}}'

# Bad values fail the render, with a message that names the value and what is accepted.
refused() { # description expected-text helm-args...
  local what=$1 want=$2 out; shift 2
  if out=$(template "$@"); then fail "$what is refused" "$(head -n 5 <<<"$out")"
  elif grep -qF -- "$want" <<<"$out"; then pass
  else fail "$what is refused with '$want'" "$out"; fi
}
refused "emulation=bogus" 'emulation: "bogus" is not one of auto, on, off' --set emulation=bogus
refused "vmFinalizerPolicy=maybe" 'vmFinalizerPolicy: "maybe" is not one of auto, true, false' \
  --set vmFinalizerPolicy=maybe
refused "logLevel=loud" 'logLevel: "loud" is not one of debug, info, warn, error' --set logLevel=loud
refused "workers=0" 'workers: "0" is not a whole number from 1 to 64' --set workers=0
refused "workers=100" 'workers: "100" is not a whole number from 1 to 64' --set workers=100
refused "replicas=two" 'replicas: "two" is not a whole number' --set replicas=two
refused "controller.image.pullPolicy=Sometimes" 'controller.image.pullPolicy: "Sometimes" is not one of' \
  --set controller.image.pullPolicy=Sometimes
finish
