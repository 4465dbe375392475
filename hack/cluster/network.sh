# shellcheck shell=bash
# Part of hack/cluster-up.sh (sourced by it, in order): the host's side of
# pod networking: sysctls (their old values remembered for cluster-down),
# the bridge whose address is the node's, and the CNI configuration
# containerd reads.

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
