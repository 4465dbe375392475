# shellcheck shell=bash
# Shared by hack/cluster-*.sh: where the local cluster keeps its state, the
# fixed addresses it uses, failure reports, and the clean-up helpers
# cluster-down needs (the daemons themselves: hack/lib/proc.sh).
# docs/cluster.md explains the layout and the settings.

cluster_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)

STATE=$(realpath -m "${VIREO_CLUSTER_DIR:-$HOME/.cache/vireo/cluster}")
NODE_NAME=vireo-node
BRIDGE=vireo0
CNI_NETWORK=vireo
POD_CIDR=10.244.0.0/24
# The bridge's gateway address is the node's address: pods reach it directly,
# it exists on every machine (the script creates it) and it does not depend on
# how the host itself is connected. kube-apiserver advertises it as the
# endpoint of the `kubernetes` Service, kubelet registers it as InternalIP.
NODE_IP=10.244.0.1
SERVICE_CIDR=10.96.0.0/16
SERVICE_IP=10.96.0.1
# The cluster DNS (CoreDNS, Service kube-system/kube-dns): the kubelet writes
# it into every ClusterFirst pod's resolv.conf.
DNS_IP=10.96.0.10
CLUSTER_DOMAIN=cluster.local
APISERVER_PORT=6443
# Not etcd's default ports, so that another etcd on the machine (or the T1
# harness, which picks free ports) does not collide with this one.
ETCD_PORT=12379
ETCD_PEER_PORT=12380

CONTAINERD_SOCK=$STATE/containerd/containerd.sock
RUN=$STATE/run
LOGS=$STATE/logs
PKI=$STATE/pki

# The components are daemons of hack/lib/proc.sh: pid files in RUN, logs in
# LOGS, and each one's command line names the state directory.
# shellcheck source=hack/lib/proc.sh
source "$cluster_root/hack/lib/proc.sh"
PROC_RUN=$RUN PROC_LOGS=$LOGS PROC_MARK=$STATE/

# iptables, conntrack, runc and ip live in /usr/sbin, which a user's PATH
# (and so sudo's) may lack; Go may be installed outside PATH.
PATH=$PATH:/usr/local/sbin:/usr/sbin:/sbin
[[ -x /usr/local/go/bin/go ]] && ! command -v go >/dev/null && PATH=/usr/local/go/bin:$PATH
export PATH

cluster_log() { echo "${0##*/}: $*" >&2; }

# cluster_fail STEP [COMPONENT]: the step that failed, then the last lines of
# the component's log, and exit.
cluster_fail() {
  echo "${0##*/}: FAILED: $1" >&2
  if [[ -n ${2:-} && -f $LOGS/$2.log ]]; then
    echo "--- last 20 lines of $LOGS/$2.log ---" >&2
    tail -n 20 "$LOGS/$2.log" >&2
  fi
  cluster_failed=1
  exit 1
}

# cluster_step TEXT [COMPONENT]: what runs now. Any command failing under
# `set -e` after this reports the step (and the component's log) on exit.
cluster_step() {
  cluster_step_text=$1 cluster_step_log=${2:-}
  cluster_log "$1"
}
cluster_step_text="" cluster_step_log="" cluster_failed=""
cluster_report_exit() {
  local rc=$?
  if ((rc)) && [[ -z $cluster_failed && -n $cluster_step_text ]]; then
    cluster_failed=1
    (cluster_fail "$cluster_step_text (exit status $rc)" "$cluster_step_log")
  fi
  return "$rc"
}
trap cluster_report_exit EXIT

# Everything here needs root (mounts, iptables, the containerd socket). Re-run
# the calling script under sudo, passing on where the state is (sudo resets
# HOME) and what the caller prepared as itself (VIREO_UPSTREAM_BIN,
# VIREO_K8S_SRC: Go's caches stay the caller's).
cluster_need_root() {
  [[ $(id -u) == 0 ]] && return 0
  exec sudo env VIREO_CLUSTER_DIR="$STATE" VIREO_UPSTREAM_BIN="${VIREO_UPSTREAM_BIN:-}" \
    VIREO_K8S_SRC="${VIREO_K8S_SRC:-}" VIREO_OWNER="$(id -u):$(id -g)" PATH="$PATH" \
    bash "$0" "$@"
}

# cluster_ensure NAME CHECK SECONDS CMD...: hack/lib/proc.sh's proc_ensure
# (start; restart when the configuration changed, it is unhealthy or gone;
# leave alone otherwise), failing the step with the component's log when it
# does not come up.
cluster_ensure() {
  local name=$1 timeout=$3 rc=0
  cluster_step_text="starting $name" cluster_step_log=$name
  proc_ensure "$@" || rc=$?
  case $rc in
    0) ;;
    2) cluster_fail "starting $name: it exited" "$name" ;;
    *) cluster_fail "starting $name: not healthy after $timeout s" "$name" ;;
  esac
}

containerd_healthy() {
  [[ -S $CONTAINERD_SOCK ]] && timeout 5 ctr --address "$CONTAINERD_SOCK" version >/dev/null 2>&1
}

ctr_k8s() { ctr --address "$CONTAINERD_SOCK" -n k8s.io "$@"; }

# Our containerd's shims: they outlive containerd by design. They are found
# by the socket address on their command line, which only this cluster uses.
containerd_shim_pids() {
  local p
  for p in $(pgrep -f -- "containerd-shim" || true); do
    tr '\0' ' ' 2>/dev/null < "/proc/$p/cmdline" | grep -qF -- "-address $CONTAINERD_SOCK " && echo "$p"
  done
  return 0
}

# Mount points under DIR, deepest first (/proc/self/mountinfo escapes spaces
# as \040; the state directory is not expected to contain any).
mounts_under() {
  awk -v d="$1/" 'index($5, d) == 1 {print $5}' /proc/self/mountinfo | sort -r -u
}

# iptables_drop_chains IPT TABLE CHAIN...: delete the chains, and the rules of
# the other chains that jump to them (by rule number, last first).
iptables_drop_chains() {
  local ipt=$1 table=$2; shift 2
  (($#)) || return 0
  local doomed=" $* " chain n
  for chain in $("$ipt" -w -t "$table" -S 2>/dev/null | awk '$1 == "-P" || $1 == "-N" {print $2}'); do
    [[ $doomed == *" $chain "* ]] && continue
    for n in $("$ipt" -w -t "$table" -L "$chain" -n --line-numbers 2>/dev/null |
      awk -v d="$doomed" 'NR > 2 && index(d, " " $2 " ") {print $1}' | sort -rn); do
      "$ipt" -w -t "$table" -D "$chain" "$n" || true
    done
  done
  for chain in "$@"; do "$ipt" -w -t "$table" -F "$chain" || true; done
  for chain in "$@"; do "$ipt" -w -t "$table" -X "$chain" || true; done
}

# iptables_chains IPT TABLE AWK-CONDITION: names of the chains of TABLE that
# have a rule (in iptables -S form, $2 = chain) matching the condition, or
# that are declared with a name matching it.
iptables_chains() {
  "$1" -w -t "$2" -S 2>/dev/null | awk "(\$1 == \"-N\" || \$1 == \"-A\") && ($3) {print \$2}" | sort -u
}

# Block volumes (hack/cluster-pv.sh --block): the data is the sparse file
# DIR/block.img, attached to a loop device, and DIR/device is a block device
# node for that loop device. The PersistentVolume names DIR/device, a path
# that stays the same when the loop device's number changes: cluster-down
# detaches the loop devices, cluster-up attaches them again (the PV's path is
# immutable, a /dev/loopN one would go stale).

# cluster_attach_block DIR: DIR/block.img on a loop device, DIR/device its node.
cluster_attach_block() {
  local dir=$1 loop want have=""
  loop=$(losetup -n -l -O NAME -j "$dir/block.img" | head -n 1)
  [[ -n $loop ]] || loop=$(losetup -f --show "$dir/block.img")
  want=$(stat -c '%Hr %Lr' "$loop")
  [[ -b $dir/device ]] && have=$(stat -c '%Hr %Lr' "$dir/device")
  if [[ $have != "$want" ]]; then
    rm -f "$dir/device"
    # shellcheck disable=SC2086 # major and minor
    mknod -m 0660 "$dir/device" b $want
  fi
}

# cluster_detach_loops PREFIX: detach every loop device whose backing file is
# under PREFIX (ours, and the ones the kubelet stacks on a block volume for
# each pod using it, backed by a file under its --root-dir: those first).
cluster_detach_loops() {
  local loop
  for loop in $(losetup -n -l -O NAME,BACK-FILE 2>/dev/null |
    awk -v p="$1" -v k="$STATE/kubelet/" 'index($2, p) == 1 {print (index($2, k) == 1 ? 0 : 1), $1}' |
    sort | cut -d' ' -f2); do
    losetup -d "$loop" 2>/dev/null || true
  done
}
