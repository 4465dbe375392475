#!/usr/bin/env bash
# Starts (or repairs) a single-node Kubernetes cluster of upstream parts on
# this machine, for the end-to-end tests and the demo: a private containerd,
# etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kubelet and
# kube-proxy, pod networking on the bridge vireo0, the cluster DNS (CoreDNS),
# a dynamic provisioner behind the default StorageClass `local-path`, and a
# StorageClass `vireo-local` for hand-made volumes (hack/cluster-pv.sh).
#
#   hack/cluster-up.sh               start what is not running, check the rest
#   source "$VIREO_CLUSTER_DIR/env"  KUBECONFIG, CONTAINERD_ADDRESS, BIN, ...
#   hack/cluster-down.sh [--purge]   stop everything (--purge: delete the state)
#
# State, logs and pid files: ${VIREO_CLUSTER_DIR:-~/.cache/vireo/cluster}.
# Running it again is cheap: running components that pass their health check
# are left alone, dead ones are restarted, ones whose configuration changed
# are restarted. Needs root (re-runs itself with sudo). See docs/cluster.md.
set -euo pipefail

# shellcheck source=lib/cluster.sh
source "$(dirname "$0")/lib/cluster.sh"
# shellcheck source=lib/oci.sh
source "$cluster_root/hack/lib/oci.sh"
# shellcheck source=lib/pki.sh
source "$cluster_root/hack/lib/pki.sh"
start=$SECONDS

# The upstream binaries are built as the calling user (Go's caches are
# theirs), before switching to root.
if [[ -z ${VIREO_UPSTREAM_BIN:-} ]]; then
  VIREO_UPSTREAM_BIN=$("$cluster_root/hack/build-upstream.sh") ||
    cluster_fail "building the upstream binaries (hack/build-upstream.sh)"
fi
export VIREO_UPSTREAM_BIN
# The pinned Kubernetes sources (the pause image is built from them): in Go's
# module cache after build-upstream.sh; `go mod download` says where.
k8s_src() {
  (cd "$cluster_root/tests/cluster/kubernetes" &&
    go mod download -json k8s.io/kubernetes | python3 -c 'import json,sys; print(json.load(sys.stdin)["Dir"])')
}
if [[ $(id -u) != 0 && -z ${VIREO_K8S_SRC:-} ]]; then
  VIREO_K8S_SRC=$(k8s_src 2>/dev/null) || true  # only needed on the first run
  export VIREO_K8S_SRC
fi
cluster_need_root "$@"
BIN=$VIREO_UPSTREAM_BIN
kubectl=("$BIN/kubectl" --kubeconfig="$STATE/kubeconfig")

for tool in containerd ctr runc iptables ip openssl curl python3; do
  command -v "$tool" >/dev/null ||
    cluster_fail "checking tools: $tool is missing (hack/install-deps.sh installs it)"
done
[[ -x /usr/lib/cni/bridge && -x /usr/lib/cni/host-local && -x /usr/lib/cni/loopback ]] ||
  cluster_fail "checking tools: CNI plugins missing in /usr/lib/cni (package containernetworking-plugins)"

mkdir -p "$STATE" "$RUN" "$LOGS" "$PKI"
chmod 755 "$STATE"

# ---------------------------------------------------------------- PKI
# One CA signs everything but the front proxy's client certificate (which
# must not be usable as a user's); each component gets its own client
# identity so that RBAC and the Node authorizer see who is asking.

make_pki() {
  pki_ca "$PKI" ca vireo-cluster-ca
  pki_ca "$PKI" front-proxy-ca vireo-front-proxy-ca
  pki_issue "$PKI" apiserver "/CN=kube-apiserver" "$pki_server_ext
subjectAltName = IP:$NODE_IP, IP:$SERVICE_IP, IP:127.0.0.1, DNS:localhost, DNS:kubernetes, DNS:kubernetes.default, DNS:kubernetes.default.svc, DNS:kubernetes.default.svc.cluster.local"
  pki_issue "$PKI" kubelet-server "/CN=$NODE_NAME" "$pki_server_ext
subjectAltName = IP:$NODE_IP, DNS:$NODE_NAME"
  # Bound to the ClusterRole system:kubelet-api-admin below: exec, logs.
  pki_issue "$PKI" apiserver-kubelet-client "/CN=kube-apiserver-kubelet-client" "$pki_client_ext"
  pki_issue "$PKI" admin "/O=system:masters/CN=vireo-admin" "$pki_client_ext"
  # The default RBAC policy already knows these three users.
  pki_issue "$PKI" kube-controller-manager "/CN=system:kube-controller-manager" "$pki_client_ext"
  pki_issue "$PKI" kube-scheduler "/CN=system:kube-scheduler" "$pki_client_ext"
  pki_issue "$PKI" kube-proxy "/CN=system:kube-proxy" "$pki_client_ext"
  # The Node authorizer and NodeRestriction admission key on this name.
  pki_issue "$PKI" kubelet "/O=system:nodes/CN=system:node:$NODE_NAME" "$pki_client_ext"
  # The apiserver's identity towards aggregated API servers (APIService);
  # the other components trust the user headers of requests it proxies.
  pki_issue "$PKI" front-proxy-client "/CN=front-proxy-client" "$pki_client_ext" front-proxy-ca
  pki_signing_key "$PKI" sa
}

cluster_step "creating the PKI and kubeconfigs in $PKI"
make_pki
for c in admin kube-controller-manager kube-scheduler kube-proxy kubelet; do
  file=$STATE/$c.kubeconfig
  [[ $c == admin ]] && file=$STATE/kubeconfig
  pki_kubeconfig "$file" "https://$NODE_IP:$APISERVER_PORT" "$PKI" "$c"
done

# ---------------------------------------------------------------- processes
# ensure NAME CHECK SECONDS CMD...: hack/lib/proc.sh's proc_ensure (start,
# or restart when the configuration changed or it is unhealthy), reporting
# a component that does not come up.
ensure() {
  local name=$1 timeout=$3 rc=0
  cluster_step_text="starting $name" cluster_step_log=$name
  proc_ensure "$@" || rc=$?
  case $rc in
    0) ;;
    2) cluster_fail "starting $name: it exited" "$name" ;;
    *) cluster_fail "starting $name: not healthy after $timeout s" "$name" ;;
  esac
}

curl_admin=(curl -sf --max-time 3 --cacert "$PKI/ca.crt" --cert "$PKI/admin.crt" --key "$PKI/admin.key")
etcd_healthy() { curl -sf --max-time 3 "http://127.0.0.1:$ETCD_PORT/health" 2>/dev/null | grep -q '"health":"true"'; }
apiserver_healthy() { "${curl_admin[@]}" "https://$NODE_IP:$APISERVER_PORT/readyz" >/dev/null 2>&1; }
kcm_healthy() { curl -skf --max-time 3 https://127.0.0.1:10257/healthz >/dev/null 2>&1; }
scheduler_healthy() { curl -skf --max-time 3 https://127.0.0.1:10259/healthz >/dev/null 2>&1; }
kubelet_healthy() { curl -sf --max-time 3 http://127.0.0.1:10248/healthz >/dev/null 2>&1; }
kube_proxy_healthy() { curl -sf --max-time 3 http://127.0.0.1:10256/healthz >/dev/null 2>&1; }

# ---------------------------------------------------------------- host network
cluster_step "setting up the host network (bridge $BRIDGE, sysctls)"
# Remember the values found before the first cluster-up; cluster-down puts them back.
remember_sysctl() {
  local file=/proc/sys/${1//.//}
  [[ -f $file ]] || return 0
  grep -q "^$1 " "$RUN/sysctl.orig" 2>/dev/null || echo "$1 $(cat "$file")" >> "$RUN/sysctl.orig"
}
set_sysctl() {
  local file=/proc/sys/${1//.//}
  [[ -f $file ]] || return 0
  remember_sysctl "$1"
  [[ $(cat "$file") == "$2" ]] || echo "$2" > "$file"
}
# Pods reach other networks through the host (the bridge plugin would set it too).
set_sysctl net.ipv4.ip_forward 1
# Service traffic between two pods on the same bridge must pass kube-proxy's
# iptables rules.
set_sysctl net.bridge.bridge-nf-call-iptables 1
# kube-proxy would set this one for NodePorts on localhost (not configured).
remember_sysctl net.ipv4.conf.all.route_localnet
# kubelet sets these when it starts (overcommit always, reboot 10 s after a
# panic, panic on oops, key quotas); a development machine wants its own back.
for key in vm.overcommit_memory vm.panic_on_oom kernel.panic kernel.panic_on_oops \
  kernel.keys.root_maxkeys kernel.keys.root_maxbytes; do
  remember_sysctl "$key"
done
# Created here rather than by the bridge plugin on the first pod: its
# address is the apiserver's, which must exist before any pod does.
ip link show "$BRIDGE" >/dev/null 2>&1 || ip link add "$BRIDGE" type bridge
ip -4 addr show dev "$BRIDGE" | grep -q "inet $NODE_IP/" || ip addr add "$NODE_IP/${POD_CIDR#*/}" dev "$BRIDGE"
ip link set "$BRIDGE" up

mkdir -p "$STATE/cni/net.d" "$STATE/cni/ipam"
# The loopback interface is set up by containerd itself (with
# /usr/lib/cni/loopback); no hostPort support (no portmap), use
# `kubectl port-forward`.
proc_write_config "$STATE/cni/net.d/10-vireo.conflist" <<EOF
{
  "cniVersion": "1.0.0",
  "name": "$CNI_NETWORK",
  "plugins": [
    {
      "type": "bridge",
      "bridge": "$BRIDGE",
      "isGateway": true,
      "ipMasq": true,
      "hairpinMode": true,
      "ipam": {
        "type": "host-local",
        "dataDir": "$STATE/cni/ipam",
        "ranges": [[{"subnet": "$POD_CIDR", "gateway": "$NODE_IP"}]],
        "routes": [{"dst": "0.0.0.0/0"}]
      }
    }
  ]
}
EOF

# ---------------------------------------------------------------- images
# No registry is reachable: the pause image (the pod sandbox) is compiled
# from the pinned Kubernetes sources, busybox comes from Debian's
# busybox-static, CoreDNS and the local-path provisioner are static binaries
# hack/build-upstream.sh built; all are written as OCI archives and imported.
images=$STATE/images
mkdir -p "$images"
k8s_version=$(awk '$1=="require" && $2=="k8s.io/kubernetes" {print $3}' "$cluster_root/tests/cluster/kubernetes/go.mod")
image_recipe=$(sha256sum "$cluster_root/hack/lib/oci.sh" | cut -c1-12)
# cluster_image ARCHIVE NAME:TAG ROOT ENTRYPOINT-JSON [CMD-JSON]: a one-layer
# image of ROOT, root-owned, its times 0 (the same files give the same digest).
cluster_image() {
  local config="{\"Entrypoint\":$4,\"Env\":[\"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\"]"
  [[ -z ${5:-} ]] || config+=",\"Cmd\":$5"
  SOURCE_DATE_EPOCH=0 oci_tree_archive "$1" "$2" "$3" "$config}" hack/cluster-up.sh "$2" --owner=0 --group=0
}

pause_archive=$images/pause-$k8s_version-$image_recipe.tar
if [[ ! -f $pause_archive || ! -f $pause_archive.name ]]; then
  cluster_step "building the pause image" images
  (
    set -e
    command -v gcc >/dev/null || { echo "gcc is not installed" >&2; exit 1; }
    src=${VIREO_K8S_SRC:-$(k8s_src)}
    tag=$(awk '$1=="TAG" {print $3}' "$src/build/pause/Makefile")
    work=$(mktemp -d)
    trap 'rm -rf "$work"' EXIT
    mkdir -p "$work/rootfs"
    gcc -Os -Wall -Werror -static -DVERSION="v$tag-vireo" -o "$work/rootfs/pause" "$src/build/pause/linux/pause.c"
    strip "$work/rootfs/pause"
    cluster_image "$pause_archive" "vireo.local/pause:$tag" "$work/rootfs" '["/pause"]'
    echo "vireo.local/pause:$tag" > "$pause_archive.name"
  ) >"$LOGS/images.log" 2>&1
fi
pause_image=$(cat "$pause_archive.name")

busybox_image=""
if [[ -x /bin/busybox ]] && ! ldd /bin/busybox >/dev/null 2>&1; then  # static only
  busybox_sum=$(sha256sum /bin/busybox | cut -c1-12)
  busybox_archive=$images/busybox-$busybox_sum-$image_recipe.tar
  busybox_image=vireo.local/busybox:$(/bin/busybox 2>&1 | sed -n '1s/^BusyBox v\([0-9.]*\).*/\1/p')
  if [[ ! -f $busybox_archive ]]; then
    cluster_step "building the busybox image" images
    (
      set -e
      work=$(mktemp -d)
      trap 'rm -rf "$work"' EXIT
      mkdir -p "$work/bin" "$work/etc" "$work/tmp"
      chmod 1777 "$work/tmp"
      cp /bin/busybox "$work/bin/busybox"
      for applet in $(/bin/busybox --list); do
        [[ $applet == busybox ]] || ln -s busybox "$work/bin/$applet"
      done
      printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' > "$work/etc/passwd"
      printf 'root:x:0:\nnobody:x:65534:\n' > "$work/etc/group"
      cluster_image "$busybox_archive" "$busybox_image" "$work" null '["sh"]'
    ) >"$LOGS/images.log" 2>&1
  fi
else
  cluster_log "no static /bin/busybox (package busybox-static): no busybox image"
fi

# static_image IMAGE BINARY: an image of the static BINARY alone, as
# /<its name> (the entrypoint), readable by a non-root user; built when the
# binary changed. Its archive's path goes to $static_archive.
static_image() {
  local image=$1 binary=$2
  static_archive=$images/$(basename "$binary")-$(sha256sum "$binary" | cut -c1-12)-$image_recipe.tar
  [[ -f $static_archive ]] && return 0
  cluster_step "building the image $image" images
  (
    set -e
    work=$(mktemp -d)
    trap 'rm -rf "$work"' EXIT
    install -d -m 0755 "$work/rootfs"
    install -m 0755 "$binary" "$work/rootfs/"
    cluster_image "$static_archive.part" "$image" "$work/rootfs" "[\"/$(basename "$binary")\"]"
    mv "$static_archive.part" "$static_archive"
  ) >"$LOGS/images.log" 2>&1
}
# pin_version DIR MODULE: the version tests/cluster/DIR/go.mod pins, without its v.
pin_version() {
  awk -v m="$2" '$1=="require" && $2==m {sub(/^v/, "", $3); print $3}' "$cluster_root/tests/cluster/$1/go.mod"
}

# The cluster DNS, tagged with its version (the pin in
# tests/cluster/coredns/go.mod), as the pause image is.
[[ -x $BIN/coredns ]] ||
  cluster_fail "building the CoreDNS image: no $BIN/coredns (hack/build-upstream.sh builds it)"
coredns_version=$(pin_version coredns github.com/coredns/coredns)
[[ -n $coredns_version ]] || cluster_fail "building the CoreDNS image: no CoreDNS pin in tests/cluster/coredns/go.mod"
coredns_image=vireo.local/coredns:$coredns_version
static_image "$coredns_image" "$BIN/coredns"
coredns_archive=$static_archive

# The provisioner of the default StorageClass (tests/cluster/local-path/).
# Its helper pods run the busybox image.
[[ -x $BIN/local-path-provisioner ]] ||
  cluster_fail "building the local-path image: no $BIN/local-path-provisioner (hack/build-upstream.sh builds it)"
[[ -n $busybox_image ]] ||
  cluster_fail "building the local-path image: its helper pods need the busybox image (package busybox-static)"
local_path_version=$(pin_version local-path github.com/rancher/local-path-provisioner)
[[ -n $local_path_version ]] ||
  cluster_fail "building the local-path image: no pin in tests/cluster/local-path/go.mod"
local_path_image=vireo.local/local-path-provisioner:$local_path_version
static_image "$local_path_image" "$BIN/local-path-provisioner"
local_path_archive=$static_archive

# ---------------------------------------------------------------- containerd
cluster_step "configuring containerd"
mkdir -p "$STATE/containerd"
# Everything of this containerd lives under the state directory (except the
# shims' sockets, which containerd 1.6 always puts in /run/containerd/s).
# restrict_oom_score_adj: root here lacks CAP_SYS_RESOURCE, so the negative
# oom_score_adj containerd gives sandboxes by default makes every runc create
# fail ("can't get final child's PID from pipe: EOF").
# device_ownership_from_security_context: a device a container gets (/dev/kvm
# from the device plugin, a block PVC) belongs to the pod's runAsUser and
# runAsGroup, not to the host's owner (root), so the launcher pod (uid 107)
# can open them (docs/launcher-pod.md).
proc_write_config "$STATE/containerd/config.toml" <<EOF
version = 2
root = "$STATE/containerd/root"
state = "$STATE/containerd/state"
disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.zfs"]

[grpc]
  address = "$CONTAINERD_SOCK"

[plugins."io.containerd.internal.v1.opt"]
  path = "$STATE/containerd/opt"

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$pause_image"
  restrict_oom_score_adj = true
  device_ownership_from_security_context = true
  netns_mounts_under_state_dir = true
  enable_selinux = false
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        # kubelet uses the cgroupfs driver (no systemd to delegate to).
        SystemdCgroup = false
        Root = "$STATE/containerd/runc"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$STATE/cni/net.d"
    max_conf_num = 1
EOF
ensure containerd containerd_healthy 60 containerd --config "$STATE/containerd/config.toml"

cluster_step "importing the images into containerd" images
for pair in "$pause_image=$pause_archive" "$coredns_image=$coredns_archive" \
  "$local_path_image=$local_path_archive" ${busybox_image:+"$busybox_image=$busybox_archive"}; do
  name=${pair%%=*} archive=${pair#*=}
  if [[ -z $(ctr_k8s images ls -q "name==$name") ]]; then
    cluster_log "importing $name"
    ctr_k8s images import "$archive" >>"$LOGS/images.log" 2>&1
  fi
done

# ---------------------------------------------------------------- control plane
ensure etcd etcd_healthy 60 "$BIN/etcd" --name=vireo --data-dir="$STATE/etcd" \
  --listen-client-urls="http://127.0.0.1:$ETCD_PORT" \
  --advertise-client-urls="http://127.0.0.1:$ETCD_PORT" \
  --listen-peer-urls="http://127.0.0.1:$ETCD_PEER_PORT" \
  --initial-advertise-peer-urls="http://127.0.0.1:$ETCD_PEER_PORT" \
  --initial-cluster="vireo=http://127.0.0.1:$ETCD_PEER_PORT" \
  --listen-metrics-urls="" --log-level=warn

# Node,RBAC + NodeRestriction: the kubelet may only touch its own node and
# pods. --kubelet-*: kubectl exec/logs/port-forward go through the kubelet,
# whose serving certificate is checked against the cluster CA.
ensure kube-apiserver apiserver_healthy 120 "$BIN/kube-apiserver" \
  --advertise-address="$NODE_IP" --bind-address="$NODE_IP" --secure-port="$APISERVER_PORT" \
  --etcd-servers="http://127.0.0.1:$ETCD_PORT" \
  --tls-cert-file="$PKI/apiserver.crt" --tls-private-key-file="$PKI/apiserver.key" \
  --client-ca-file="$PKI/ca.crt" \
  --kubelet-client-certificate="$PKI/apiserver-kubelet-client.crt" \
  --kubelet-client-key="$PKI/apiserver-kubelet-client.key" \
  --kubelet-certificate-authority="$PKI/ca.crt" \
  --kubelet-preferred-address-types=InternalIP \
  --requestheader-client-ca-file="$PKI/front-proxy-ca.crt" \
  --requestheader-allowed-names=front-proxy-client \
  --requestheader-username-headers=X-Remote-User --requestheader-group-headers=X-Remote-Group \
  --requestheader-extra-headers-prefix=X-Remote-Extra- \
  --proxy-client-cert-file="$PKI/front-proxy-client.crt" \
  --proxy-client-key-file="$PKI/front-proxy-client.key" \
  --authorization-mode=Node,RBAC --enable-admission-plugins=NodeRestriction \
  --service-account-issuer=https://kubernetes.default.svc.cluster.local \
  --service-account-key-file="$PKI/sa.pub" --service-account-signing-key-file="$PKI/sa.key" \
  --service-cluster-ip-range="$SERVICE_CIDR" \
  --allow-privileged=true \
  --cert-dir="$STATE/kube-apiserver" \
  --v=1

cluster_step "creating the base objects (RBAC for the kubelet API, StorageClass vireo-local)" bootstrap
# vireo-local holds the volumes hack/cluster-pv.sh makes by hand; claims name
# it (the default class is local-path, deployed below: two defaults would
# make a claim without a class ambiguous). Immediate binding: one node, so
# there is no placement for a claim to wait for, and a claim is Bound as soon
# as a matching PersistentVolume exists (callers can wait for Bound before
# creating pods). Retain: Kubernetes cannot scrub or delete these volumes.
"${kubectl[@]}" apply -f - >"$LOGS/bootstrap.log" 2>&1 <<EOF
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata:
  name: vireo:kube-apiserver-kubelet-client
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: system:kubelet-api-admin}
subjects:
- {apiGroup: rbac.authorization.k8s.io, kind: User, name: kube-apiserver-kubelet-client}
---
apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata:
  name: vireo-local
  annotations:
    storageclass.kubernetes.io/is-default-class: "false"
provisioner: kubernetes.io/no-provisioner
volumeBindingMode: Immediate
reclaimPolicy: Retain
EOF

# All default controllers; the CA also signs CSRs (kubectl certificate approve).
ensure kube-controller-manager kcm_healthy 60 "$BIN/kube-controller-manager" \
  --kubeconfig="$STATE/kube-controller-manager.kubeconfig" \
  --authentication-kubeconfig="$STATE/kube-controller-manager.kubeconfig" \
  --authorization-kubeconfig="$STATE/kube-controller-manager.kubeconfig" \
  --bind-address=127.0.0.1 --secure-port=10257 \
  --use-service-account-credentials=true \
  --service-account-private-key-file="$PKI/sa.key" --root-ca-file="$PKI/ca.crt" \
  --cluster-signing-cert-file="$PKI/ca.crt" --cluster-signing-key-file="$PKI/ca.key" \
  --service-cluster-ip-range="$SERVICE_CIDR" \
  --flex-volume-plugin-dir="$STATE/kubelet/volume-plugins" \
  --leader-elect=false --v=1

ensure kube-scheduler scheduler_healthy 60 "$BIN/kube-scheduler" \
  --kubeconfig="$STATE/kube-scheduler.kubeconfig" \
  --authentication-kubeconfig="$STATE/kube-scheduler.kubeconfig" \
  --authorization-kubeconfig="$STATE/kube-scheduler.kubeconfig" \
  --bind-address=127.0.0.1 --secure-port=10259 \
  --leader-elect=false --v=1

# ---------------------------------------------------------------- node
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
proc_extra_files=("$PKI/kubelet-server.crt" "$PKI/ca.crt")
ensure kubelet kubelet_healthy 60 "$BIN/kubelet" \
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
ensure kube-proxy kube_proxy_healthy 60 "$BIN/kube-proxy" --config="$STATE/kube-proxy.yaml" --v=1

# ---------------------------------------------------------------- ready
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

# ---------------------------------------------------------------- cluster DNS
# CoreDNS answers for $CLUSTER_DOMAIN from the API (Services and their
# EndpointSlices) and forwards every other name to the host's resolvers,
# written into the Corefile. A loopback one (a local stub such as
# systemd-resolved's 127.0.0.53) cannot be reached from a pod: it is skipped,
# for systemd-resolved's own upstream list when there is one; IPv6 ones too
# (pods have no IPv6). Without any, CoreDNS answers for the cluster only.
host_resolvers() {
  local f=/etc/resolv.conf
  if grep -qE '^[[:space:]]*nameserver[[:space:]]+127\.' "$f" && [[ -f /run/systemd/resolve/resolv.conf ]]; then
    f=/run/systemd/resolve/resolv.conf
  fi
  awk '$1 == "nameserver" && $2 !~ /^127\./ && $2 !~ /:/ {print $2}' "$f" | head -n 3 | tr '\n' ' '
}
cluster_step "deploying the cluster DNS (CoreDNS $coredns_version, Service kube-system/kube-dns, $DNS_IP)" coredns
dns_start=$SECONDS
upstreams=$(host_resolvers)
forward=""
if [[ -n $upstreams ]]; then
  forward="forward . ${upstreams% }"
else
  cluster_log "no usable resolver in /etc/resolv.conf: pods resolve names in $CLUSTER_DOMAIN only"
fi
# Port 1053 in the pod, 53 on the Service: CoreDNS needs no capability and
# runs as a non-root user. Readiness (/ready) waits for its first sync with
# the API; `reload` picks up a changed Corefile without a restart.
"${kubectl[@]}" apply -f - >"$LOGS/coredns.log" 2>&1 <<EOF
apiVersion: v1
kind: ServiceAccount
metadata: {name: coredns, namespace: kube-system}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: "system:coredns"}
rules:
- apiGroups: [""]
  resources: [endpoints, services, namespaces]
  verbs: [list, watch]
- apiGroups: [discovery.k8s.io]
  resources: [endpointslices]
  verbs: [list, watch]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: "system:coredns"}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: "system:coredns"}
subjects:
- {kind: ServiceAccount, name: coredns, namespace: kube-system}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: coredns, namespace: kube-system}
data:
  Corefile: |
    .:1053 {
        errors
        health {
            lameduck 5s
        }
        ready
        kubernetes $CLUSTER_DOMAIN in-addr.arpa ip6.arpa {
            pods insecure
            fallthrough in-addr.arpa ip6.arpa
            ttl 30
        }
        prometheus :9153
        $forward
        cache 30
        loop
        reload
        loadbalance
    }
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: coredns
  namespace: kube-system
  labels: {k8s-app: kube-dns}
spec:
  replicas: 1
  selector:
    matchLabels: {k8s-app: kube-dns}
  template:
    metadata:
      labels: {k8s-app: kube-dns}
    spec:
      priorityClassName: system-cluster-critical
      serviceAccountName: coredns
      dnsPolicy: Default
      tolerations:
      - {key: CriticalAddonsOnly, operator: Exists}
      securityContext:
        runAsNonRoot: true
        runAsUser: 65532
        runAsGroup: 65532
        seccompProfile: {type: RuntimeDefault}
      containers:
      - name: coredns
        image: $coredns_image
        imagePullPolicy: Never
        args: [-conf, /etc/coredns/Corefile]
        ports:
        - {name: dns, containerPort: 1053, protocol: UDP}
        - {name: dns-tcp, containerPort: 1053, protocol: TCP}
        - {name: metrics, containerPort: 9153, protocol: TCP}
        resources:
          requests: {cpu: 10m, memory: 32Mi}
          limits: {memory: 128Mi}
        securityContext:
          allowPrivilegeEscalation: false
          readOnlyRootFilesystem: true
          capabilities: {drop: [ALL]}
        livenessProbe:
          httpGet: {path: /health, port: 8080}
          initialDelaySeconds: 30
          timeoutSeconds: 5
          failureThreshold: 5
        readinessProbe:
          httpGet: {path: /ready, port: 8181}
          periodSeconds: 2
        volumeMounts:
        - {name: config, mountPath: /etc/coredns, readOnly: true}
      volumes:
      - name: config
        configMap:
          name: coredns
          items: [{key: Corefile, path: Corefile}]
---
apiVersion: v1
kind: Service
metadata:
  name: kube-dns
  namespace: kube-system
  labels: {k8s-app: kube-dns, kubernetes.io/name: CoreDNS}
spec:
  selector: {k8s-app: kube-dns}
  clusterIP: $DNS_IP
  ports:
  - {name: dns, port: 53, protocol: UDP, targetPort: dns}
  - {name: dns-tcp, port: 53, protocol: TCP, targetPort: dns-tcp}
  - {name: metrics, port: 9153, protocol: TCP, targetPort: metrics}
EOF
if ! "${kubectl[@]}" -n kube-system rollout status deployment/coredns --timeout=120s >>"$LOGS/coredns.log" 2>&1; then
  {
    "${kubectl[@]}" -n kube-system get pods -l k8s-app=kube-dns -o wide
    "${kubectl[@]}" -n kube-system get events --field-selector involvedObject.kind=Pod | tail -n 5
    "${kubectl[@]}" -n kube-system logs deployment/coredns --tail=10
  } >>"$LOGS/coredns.log" 2>&1 || true
  cluster_fail "the cluster DNS: deployment kube-system/coredns not Ready after 120 s" coredns
fi
cluster_log "CoreDNS ready ($((SECONDS - dns_start)) s)"

# ---------------------------------------------------------------- storage
# The default StorageClass local-path: a claim that names no class gets a
# directory under $STATE/local-path when its first pod is scheduled, and
# loses it with the claim. The objects are in tests/cluster/local-path/.
cluster_step "deploying the local-path provisioner ($local_path_image, default StorageClass local-path)" local-path
storage_start=$SECONDS
mkdir -p "$STATE/local-path"
manifest=$cluster_root/tests/cluster/local-path/local-path.yaml
config_hash=$( (cat "$manifest"; echo "$local_path_image $busybox_image $STATE/local-path") | sha256sum | cut -c1-16)
sed -e "s|@PROVISIONER_IMAGE@|$local_path_image|g" -e "s|@HELPER_IMAGE@|$busybox_image|g" \
  -e "s|@VOLUME_DIR@|$STATE/local-path|g" -e "s|@CONFIG_HASH@|$config_hash|g" "$manifest" |
  "${kubectl[@]}" apply -f - >"$LOGS/local-path.log" 2>&1
if ! "${kubectl[@]}" -n local-path-storage rollout status deployment/local-path-provisioner --timeout=120s \
  >>"$LOGS/local-path.log" 2>&1; then
  {
    "${kubectl[@]}" -n local-path-storage get pods -o wide
    "${kubectl[@]}" -n local-path-storage get events --field-selector involvedObject.kind=Pod | tail -n 5
    "${kubectl[@]}" -n local-path-storage logs deployment/local-path-provisioner --tail=10
  } >>"$LOGS/local-path.log" 2>&1 || true
  cluster_fail "the local-path provisioner: deployment local-path-storage/local-path-provisioner not Ready after 120 s" local-path
fi
cluster_log "local-path provisioner ready ($((SECONDS - storage_start)) s)"

{
  printf '%s=%q\n' KUBECONFIG "$STATE/kubeconfig" CONTAINERD_ADDRESS "$CONTAINERD_SOCK" BIN "$BIN" \
    VIREO_CLUSTER_DIR "$STATE" VIREO_NODE "$NODE_NAME" VIREO_STORAGE_CLASS vireo-local \
    VIREO_DEFAULT_STORAGE_CLASS local-path \
    VIREO_PAUSE_IMAGE "$pause_image" VIREO_BUSYBOX_IMAGE "$busybox_image"
} > "$STATE/env"

# Under sudo: the caller gets the kubeconfig and env.
if [[ -n ${VIREO_OWNER:-} ]]; then
  chown "$VIREO_OWNER" "$STATE/kubeconfig" "$STATE/env"
fi

cluster_log "cluster ready in $((SECONDS - start)) s: export KUBECONFIG=$STATE/kubeconfig (or: source $STATE/env)"
