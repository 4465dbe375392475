#!/usr/bin/env bash
# Stops the local cluster of hack/cluster-up.sh and leaves nothing running:
# no processes, containers, mounts, bridge or iptables rules of the cluster.
# Like switching the node off: objects stay in etcd, and pods come back (with
# new sandboxes) on the next cluster-up.
#
#   hack/cluster-down.sh           stop, keep the state (PKI, etcd, images)
#   hack/cluster-down.sh --purge   stop and delete the state directory
set -euo pipefail

# shellcheck source=lib/cluster.sh
source "$(dirname "$0")/lib/cluster.sh"

purge=""
case ${1:-} in
  "") ;;
  --purge) purge=1 ;;
  *) sed -n '2,8p' "$0" >&2; exit 2 ;;
esac
cluster_need_root "$@"

if [[ ! -d $STATE ]]; then
  cluster_log "no cluster state in $STATE"
  exit 0
fi

# Nothing may start or restart pods while the node goes away: the control
# plane and the kubelet stop before the containers do.
cluster_step "stopping the control plane and the node agents"
proc_stop_all 20 kube-scheduler kube-controller-manager kube-proxy kubelet kube-apiserver
proc_stop etcd 20

# Containers are stopped through containerd, so that it releases their
# mounts and its shims exit. If containerd died but left shims (with running
# containers) behind, it is started again for the purpose.
if [[ -n $(containerd_shim_pids) ]] && ! containerd_healthy && [[ -f $STATE/containerd/config.toml ]]; then
  cluster_step "restarting containerd to stop the containers it left" containerd
  proc_stop containerd
  proc_spawn containerd containerd --config "$STATE/containerd/config.toml"
  for _ in $(seq 1 60); do containerd_healthy && break; sleep 0.5; done
fi

running_tasks() { ctr_k8s tasks ls 2>/dev/null | awk 'NR > 1 && $3 == "RUNNING" {print $1}'; }

if containerd_healthy; then
  cluster_step "stopping the pods' containers" containerd
  sandboxes=$(ctr_k8s containers ls -q 'labels."io.cri-containerd.kind"==sandbox')
  # SIGTERM to the applications, up to 5 s to finish, then SIGKILL to all.
  for t in $(running_tasks); do
    [[ $'\n'$sandboxes$'\n' == *$'\n'$t$'\n'* ]] || ctr_k8s tasks kill "$t" >/dev/null 2>&1 || true
  done
  for _ in $(seq 1 20); do
    [[ -z $(comm -23 <(running_tasks | sort) <(sort <<<"$sandboxes")) ]] && break
    sleep 0.25
  done
  for t in $(running_tasks); do ctr_k8s tasks kill -a -s SIGKILL "$t" >/dev/null 2>&1 || true; done
  for _ in $(seq 1 40); do [[ -z $(running_tasks) ]] && break; sleep 0.25; done
  # Deleting a stopped task unmounts its root filesystem and ends its shim.
  for t in $(ctr_k8s tasks ls -q 2>/dev/null); do ctr_k8s tasks delete "$t" >/dev/null 2>&1 || true; done
  [[ -z $(running_tasks) ]] || cluster_log "still running after SIGKILL: $(running_tasks | tr '\n' ' ')"

  # The pods' network: what kubelet's StopPodSandbox would have done, run
  # the CNI plugins with DEL for every sandbox network namespace (releases
  # the IP, deletes the veth and the bridge plugin's masquerade rules), then
  # remove the namespace.
  cluster_step "releasing the pods' network" containerd
  for s in $sandboxes; do
    netns=$(ctr_k8s containers info "$s" 2>/dev/null | python3 -c '
import json, sys
spec = json.load(sys.stdin).get("Spec") or {}
for ns in spec.get("linux", {}).get("namespaces", []):
    if ns.get("type") == "network" and ns.get("path"):
        print(ns["path"])') || true
    [[ -n $netns ]] || continue  # host network
    if [[ -e $netns ]]; then
      python3 - "$STATE/cni/net.d/10-vireo.conflist" "$s" "$netns" <<'EOF' || true
import json, os, subprocess, sys
conflist, container, netns = sys.argv[1:]
net = json.load(open(conflist))
for plugin in reversed(net["plugins"]):
    conf = dict(plugin, name=net["name"], cniVersion=net["cniVersion"])
    env = dict(os.environ, CNI_COMMAND="DEL", CNI_CONTAINERID=container, CNI_NETNS=netns,
               CNI_IFNAME="eth0", CNI_PATH="/usr/lib/cni")
    r = subprocess.run(["/usr/lib/cni/" + plugin["type"]], input=json.dumps(conf).encode(),
                       env=env, capture_output=True)
    if r.returncode:
        print("CNI DEL %s: %s" % (plugin["type"], r.stdout.decode() + r.stderr.decode()), file=sys.stderr)
EOF
      umount "$netns" 2>/dev/null || true
    fi
    rm -f "$netns"
    # libcni's cache of the results, kept outside containerd's directories.
    rm -f /var/lib/cni/results/*-"$s"-*
  done
fi

cluster_step "stopping containerd" containerd
proc_stop containerd 20
# Shims whose containers could not be stopped through containerd: kill the
# containers with runc, then the shims.
runc_root=$STATE/containerd/runc/k8s.io
if [[ -d $runc_root ]]; then
  for c in $(runc --root "$runc_root" list -q 2>/dev/null); do
    runc --root "$runc_root" delete --force "$c" >/dev/null 2>&1 || true
  done
fi
for p in $(containerd_shim_pids); do
  cluster_log "killing the leftover shim $p"
  kill -9 "$p" 2>/dev/null || true
done

# Block volumes (hack/cluster-pv.sh --block) and the kubelet's loop devices
# over them; cluster-up attaches the volumes again.
cluster_step "detaching the loop devices of $STATE"
cluster_detach_loops "$STATE/"

cluster_step "unmounting what is mounted under $STATE"
for m in $(mounts_under "$STATE"); do
  umount "$m" 2>/dev/null || umount -l "$m"
done

cluster_step "removing the bridge $BRIDGE and the cluster's iptables rules"
ip link show "$BRIDGE" >/dev/null 2>&1 && ip link del "$BRIDGE"
for ipt in iptables ip6tables; do
  command -v "$ipt" >/dev/null || continue
  # The bridge plugin's masquerade chains of this network (normally already
  # gone with CNI DEL), recognised by the network name in their comment.
  # shellcheck disable=SC2046
  iptables_drop_chains "$ipt" nat $(iptables_chains "$ipt" nat "\$2 ~ /^CNI-/ && /name: \\\\\"$CNI_NETWORK\\\\\" id:/")
  # kube-proxy's and kubelet's chains (KUBE-SERVICES, KUBE-FIREWALL, ...).
  for table in filter nat mangle; do
    # shellcheck disable=SC2046
    iptables_drop_chains "$ipt" "$table" $(iptables_chains "$ipt" "$table" '$2 ~ /^KUBE-/')
  done
done

left=$(for ipt in iptables ip6tables; do
  command -v "$ipt" >/dev/null || continue
  for table in filter nat mangle; do iptables_chains "$ipt" "$table" '$2 ~ /^KUBE-/'; done
done)
[[ -z $left ]] || cluster_log "WARNING: iptables chains left: $(echo $left)"

cluster_step "restoring the host settings the cluster changed"
if [[ -f $RUN/sysctl.orig ]]; then
  while read -r key value; do
    echo "$value" > "/proc/sys/${key//.//}" || true
  done < "$RUN/sysctl.orig"
  rm -f "$RUN/sysctl.orig"
fi
# Empty pod cgroups kubelet made (cgroupfs driver, cgroup v1 and v2).
for top in /sys/fs/cgroup/*/kubepods /sys/fs/cgroup/kubepods /sys/fs/cgroup/unified/kubepods; do
  [[ -d $top ]] && find "$top" -depth -type d -exec rmdir {} + 2>/dev/null || true
done
# Kubelet's links to the pods' logs (the logs are under $LOGS/pods).
if [[ -d /var/log/containers ]]; then
  find /var/log/containers -maxdepth 1 -type l -lname "$STATE/*" -delete
  rmdir /var/log/containers 2>/dev/null || true
fi
# kubelet's device-plugin socket directory is fixed (not under --root-dir).
rm -f /var/lib/kubelet/device-plugins/kubelet.sock /var/lib/kubelet/device-plugins/kubelet_internal_checkpoint
# Directories the cluster may have created outside the state, if empty.
rmdir /var/lib/kubelet/device-plugins /var/lib/kubelet /var/lib/cni/results /var/lib/cni \
  /run/containerd/s /run/containerd 2>/dev/null || true

left=$(for c in containerd etcd kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy; do
  proc_pid "$c"; done; containerd_shim_pids)
[[ -z $left ]] || cluster_fail "processes still running: $left"
[[ -z $(mounts_under "$STATE") ]] || cluster_fail "still mounted: $(mounts_under "$STATE" | tr '\n' ' ')"
left=$(losetup -n -l -O NAME,BACK-FILE 2>/dev/null | awk -v p="$STATE/" 'index($2, p) == 1 {print $1}')
[[ -z $left ]] || cluster_fail "loop devices still attached: $(echo $left)"

if [[ -n $purge ]]; then
  cluster_step "deleting $STATE"
  # --one-file-system: never follow a mount (a hostPath volume) out of the state.
  rm -rf --one-file-system "$STATE"
fi
cluster_step_text=""
cluster_log "cluster stopped${purge:+ and its state deleted}"
