{{/*
Names. The base name is the release name when it already says "vireo"
(`helm install vireo ...` gives vireo-controller), else "<release>-vireo".
*/}}
{{- define "vireo.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 52 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 52 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{/* The controller's Deployment, ServiceAccount, ClusterRole(Binding) and Lease. */}}
{{- define "vireo.controllerName" -}}
{{- printf "%s-controller" (include "vireo.fullname" .) -}}
{{- end -}}

{{/* Labels of every object of the release. */}}
{{- define "vireo.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{ include "vireo.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{/* The controller pods' labels, also the Deployment's selector. */}}
{{- define "vireo.selectorLabels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: controller
{{- end -}}

{{- define "vireo.controllerImage" -}}
{{- printf "%s:%s" .Values.controller.image.repository (.Values.controller.image.tag | default .Chart.AppVersion) -}}
{{- end -}}

{{- define "vireo.launcherImage" -}}
{{- printf "%s:%s" .Values.launcher.image.repository (.Values.launcher.image.tag | default .Chart.AppVersion) -}}
{{- end -}}

{{/*
Values the controller would refuse at start are refused at render time, with
the value and what is accepted, so `helm install` fails instead of a pod that
crash-loops.
*/}}
{{- define "vireo.validate" -}}
{{- $emulation := toString .Values.emulation -}}
{{- if not (has $emulation (list "auto" "on" "off")) -}}
{{- fail (printf "emulation: %q is not one of auto, on, off (auto: KVM when /dev/kvm opens in the launcher pod, else software emulation; on: always software emulation; off: KVM only)" $emulation) -}}
{{- end -}}
{{- $finalizerPolicy := toString .Values.vmFinalizerPolicy -}}
{{- if not (has $finalizerPolicy (list "auto" "true" "false")) -}}
{{- fail (printf "vmFinalizerPolicy: %q is not one of auto, true, false (auto: when the cluster serves admissionregistration.k8s.io/v1 MutatingAdmissionPolicy)" $finalizerPolicy) -}}
{{- end -}}
{{- $level := toString .Values.logLevel -}}
{{- if not (has $level (list "debug" "info" "warn" "error")) -}}
{{- fail (printf "logLevel: %q is not one of debug, info, warn, error" $level) -}}
{{- end -}}
{{- $replicas := toString .Values.replicas -}}
{{- if not (regexMatch "^[0-9]+$" $replicas) -}}
{{- fail (printf "replicas: %q is not a whole number (1, or 2 for a standby controller)" $replicas) -}}
{{- end -}}
{{- $workers := toString .Values.workers -}}
{{- if or (not (regexMatch "^[0-9]+$" $workers)) (lt (int $workers) 1) (gt (int $workers) 64) -}}
{{- fail (printf "workers: %q is not a whole number from 1 to 64" $workers) -}}
{{- end -}}
{{- if not .Values.controller.image.repository -}}
{{- fail "controller.image.repository: must not be empty" -}}
{{- end -}}
{{- if not .Values.launcher.image.repository -}}
{{- fail "launcher.image.repository: must not be empty" -}}
{{- end -}}
{{- with .Values.launcher.seccompProfile -}}
{{- if or (hasPrefix "/" (toString .)) (regexMatch "(^|/)\\.\\.(/|$)" (toString .)) -}}
{{- fail (printf "launcher.seccompProfile: %q is not a path relative to the kubelet's seccomp directory without \"..\" (such as vireo/launcher.json)" (toString .)) -}}
{{- end -}}
{{- end -}}
{{- $margin := include "vireo.memoryOverheadMargin" . -}}
{{- if not (regexMatch "^[0-9]+(\\.[0-9]+)?(Ki|Mi|Gi|Ti|k|M|G|T)?$" $margin) -}}
{{- fail (printf "launcher.memoryOverheadMargin: %q is not a memory quantity (such as 16Mi)" $margin) -}}
{{- end -}}
{{- $policy := toString .Values.controller.image.pullPolicy -}}
{{- if not (has $policy (list "IfNotPresent" "Always" "Never")) -}}
{{- fail (printf "controller.image.pullPolicy: %q is not one of IfNotPresent, Always, Never" $policy) -}}
{{- end -}}
{{- range $name := list "kvmDevicePlugin.enabled" "kvmResourceOffered" -}}
{{- $value := include "vireo.valueAt" (list $ $name) -}}
{{- if not (has $value (list "true" "false")) -}}
{{- fail (printf "%s: %q is not true or false" $name $value) -}}
{{- end -}}
{{- end -}}
{{- if .Values.kvmDevicePlugin.enabled -}}
{{- if not .Values.kvmDevicePlugin.image.repository -}}
{{- fail "kvmDevicePlugin.image.repository: must not be empty" -}}
{{- end -}}
{{- $policy := toString .Values.kvmDevicePlugin.image.pullPolicy -}}
{{- if not (has $policy (list "IfNotPresent" "Always" "Never")) -}}
{{- fail (printf "kvmDevicePlugin.image.pullPolicy: %q is not one of IfNotPresent, Always, Never" $policy) -}}
{{- end -}}
{{- $count := toString .Values.kvmDevicePlugin.devicesPerNode -}}
{{- if or (not (regexMatch "^[0-9]+$" $count)) (lt (int $count) 1) -}}
{{- fail (printf "kvmDevicePlugin.devicesPerNode: %q is not a whole number of at least 1" $count) -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* The KVM device plugin's DaemonSet. */}}
{{- define "vireo.kvmDevicePluginName" -}}
{{- printf "%s-kvm-device-plugin" (include "vireo.fullname" .) -}}
{{- end -}}

{{- define "vireo.kvmDevicePluginSelectorLabels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: kvm-device-plugin
{{- end -}}

{{- define "vireo.kvmDevicePluginLabels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{ include "vireo.kvmDevicePluginSelectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{- define "vireo.kvmDevicePluginImage" -}}
{{- printf "%s:%s" .Values.kvmDevicePlugin.image.repository (.Values.kvmDevicePlugin.image.tag | default .Chart.AppVersion) -}}
{{- end -}}

{{/*
Whether launcher pods may ask for devices.kubevirt.io/kvm: the chart's plugin
offers it, or the user says another one does (KubeVirt's virt-handler).
*/}}
{{- define "vireo.kvmResourceOffered" -}}
{{- if or .Values.kvmDevicePlugin.enabled .Values.kvmResourceOffered -}}true{{- else -}}false{{- end -}}
{{- end -}}

{{/* The value at a dotted path of .Values, as text: (list $ "a.b"). */}}
{{- define "vireo.valueAt" -}}
{{- $v := (index . 0).Values -}}
{{- range $key := splitList "." (index . 1) -}}
{{- $v = index $v $key -}}
{{- end -}}
{{- toString $v -}}
{{- end -}}

{{/* launcher.memoryOverheadMargin as the controller's flag takes it: a
number written in a values file (YAML reads it as a float) as whole bytes. */}}
{{- define "vireo.memoryOverheadMargin" -}}
{{- $m := .Values.launcher.memoryOverheadMargin -}}
{{- if or (kindIs "float64" $m) (kindIs "int64" $m) (kindIs "int" $m) -}}
{{- if ge (float64 $m) 0.0 -}}{{- int64 $m -}}{{- else -}}{{- $m -}}{{- end -}}
{{- else -}}
{{- toString $m -}}
{{- end -}}
{{- end -}}
