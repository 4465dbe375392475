# shellcheck shell=bash
# Part of hack/cluster-up.sh (sourced by it, in order): the kubelet and
# kube-proxy, then waits until the node is Ready and schedulable and the
# default service account exists (what the tests' first pod needs).


kubelet_healthy() { curl -sf --max-time 3 http://127.0.0.1:10248/healthz >/dev/null 2>&1; }
kube_proxy_healthy() { curl -sf --max-time 3 http://127.0.0.1:10256/healthz >/dev/null 2>&1; }

cluster_step "configuring kubelet"
mkdir -p "$STATE/kubelet" "$LOGS/pods"
proc_write_config "$STATE/kubelet.yaml" <<EOF
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
containerRuntimeEndpoint: unix://$CONTAINERD_SOCK
# No systemd manages cgroups here; cgroupfs matches containerd's
# SystemdCgroup = false.
cgroupDriver: cgroupfs
# The machines Vireo is tested on mount the cgroup v1 hierarchies (v2 only at
# /sys/fs/cgroup/unified); kubelet >= 1.35 refuses to start on cgroup v1
# unless told to go on.
failCgroupV1: false
failSwapOn: false
address: $NODE_IP
port: 10250
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: 10248
tlsCertFile: $PKI/kubelet-server.crt
tlsPrivateKeyFile: $PKI/kubelet-server.key
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: true}
  x509: {clientCAFile: $PKI/ca.crt}
authorization:
  mode: Webhook
# ClusterFirst pods ask CoreDNS (deployed below); pods with dnsPolicy
# Default, CoreDNS's own included, get the host's resolver configuration.
clusterDNS: [$DNS_IP]
clusterDomain: $CLUSTER_DOMAIN
resolvConf: /etc/resolv.conf
podLogsDir: $LOGS/pods
volumePluginDir: $STATE/kubelet/volume-plugins
# The defaults evict pods when the disk is 85-90 % full; shared CI and dev
# disks are often fuller than that, and nothing here needs the space back.
# Absolute figures, not percentages: on a 252 GB disk whose quota leaves far
# less, 1 % (2.5 GB) was crossed in CI, and the eviction manager's image
# clean-up then deleted the pause image (containerd 1.6.20 does not pin the
# sandbox image), which no pod can start without and no registry can restore.
evictionHard:
  memory.available: 50Mi
  nodefs.available: 256Mi
  nodefs.inodesFree: 1%
  imagefs.available: 256Mi
  imagefs.inodesFree: 1%
# Images arrive by import, never by pull: one that image GC removed could not
# come back. 100 turns image GC off.
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
serializeImagePulls: false
EOF
# The Block volumes of hack/cluster-pv.sh --block: their loop devices, which
# cluster-down detached, before the kubelet hands them to pods again.
for img in "$STATE"/volumes/*/block.img; do
  [[ -f $img ]] && cluster_attach_block "${img%/block.img}"
done
# The Localhost seccomp profile of networked VMs' launcher containers
# (docs/launcher-pod.md), where the kubelet looks for it: under its root
# dir's seccomp/. The chart's launcher.seccompProfile names it by that
# relative path, which the env file gives as VIREO_LAUNCHER_SECCOMP_PROFILE.
launcher_seccomp_profile=vireo/launcher.json
install -D -m 0644 "$cluster_root/manifests/seccomp/vireo-launcher.json" \
  "$STATE/kubelet/seccomp/$launcher_seccomp_profile"
proc_extra_files=("$PKI/kubelet-server.crt" "$PKI/ca.crt")
cluster_ensure kubelet kubelet_healthy 60 "$BIN/kubelet" \
  --config="$STATE/kubelet.yaml" --kubeconfig="$STATE/kubelet.kubeconfig" \
  --root-dir="$STATE/kubelet" --cert-dir="$STATE/kubelet/pki" \
  --hostname-override="$NODE_NAME" --node-ip="$NODE_IP" \
  --v=1

proc_write_config "$STATE/kube-proxy.yaml" <<EOF
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
mode: iptables
clientConnection:
  kubeconfig: $STATE/kube-proxy.kubeconfig
hostnameOverride: $NODE_NAME
bindAddress: $NODE_IP
healthzBindAddress: 127.0.0.1:10256
metricsBindAddress: 127.0.0.1:10249
clusterCIDR: $POD_CIDR
detectLocalMode: ClusterCIDR
# NodePorts on the node's address only: the default (all local addresses,
# loopback included) makes kube-proxy set route_localnet on the host.
nodePortAddresses: [primary]
# Leave the host's conntrack table size and TCP timeouts as they are (the
# defaults make kube-proxy tune them for a busy production node).
conntrack:
  maxPerCore: 0
  tcpEstablishedTimeout: 0s
  tcpCloseWaitTimeout: 0s
EOF
proc_extra_files=("$STATE/kube-proxy.kubeconfig")
cluster_ensure kube-proxy kube_proxy_healthy 60 "$BIN/kube-proxy" --config="$STATE/kube-proxy.yaml" --v=1

cluster_step "waiting for node $NODE_NAME to be Ready" kubelet
ready=""
for _ in $(seq 1 240); do
  # Ready, and the node lifecycle controller has lifted its not-ready taint
  # (until then nothing is scheduled).
  ready=$("${kubectl[@]}" get node "$NODE_NAME" -o \
    jsonpath='{.status.conditions[?(@.type=="Ready")].status} {.spec.taints[*].key}' 2>/dev/null) || true
  [[ $ready == "True " || $ready == True ]] && break
  sleep 0.5
done
[[ $ready == "True " || $ready == True ]] || cluster_fail "node $NODE_NAME not Ready (Ready/taints: '$ready')" kubelet

cluster_step "waiting for the default service account" kube-controller-manager
for _ in $(seq 1 120); do
  "${kubectl[@]}" get serviceaccount default -n default >/dev/null 2>&1 && break
  sleep 0.5
done
"${kubectl[@]}" get serviceaccount default -n default >/dev/null 2>&1 ||
  cluster_fail "no default service account after 60 s" kube-controller-manager
