# shellcheck shell=bash
# Part of hack/cluster-up.sh (sourced by it, in order): the cluster's own
# containerd (everything under $STATE), and the images of images.sh imported
# into it when containerd does not have them by name.

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
cluster_ensure containerd containerd_healthy 60 containerd --config "$STATE/containerd/config.toml"

cluster_step "importing the images into containerd" images
for pair in "$pause_image=$pause_archive" "$coredns_image=$coredns_archive" \
  "$local_path_image=$local_path_archive" ${busybox_image:+"$busybox_image=$busybox_archive"}; do
  name=${pair%%=*} archive=${pair#*=}
  if [[ -z $(ctr_k8s images ls -q "name==$name") ]]; then
    cluster_log "importing $name"
    ctr_k8s images import "$archive" >>"$LOGS/images.log" 2>&1
  fi
done
