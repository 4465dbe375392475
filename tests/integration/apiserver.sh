#!/usr/bin/env bash
# The T1 harness: a real etcd + kube-apiserver (+ kube-controller-manager for
# service accounts and garbage collection) on loopback ports, with its own
# PKI, RBAC authorization and a service-account issuer, and Vireo's CRDs
# installed. No kubelet: tests play its part.
#
#   apiserver.sh start DIR            start everything; writes DIR/kubeconfig (cluster-admin)
#                                     and DIR/env (ports, pids); prints DIR/kubeconfig
#   apiserver.sh stop DIR             stop what start started
#   apiserver.sh restart-apiserver DIR  kill and restart kube-apiserver on the same port
#                                     (drops every open connection, e.g. watches)
#   apiserver.sh compact DIR          compact etcd at its current revision, so that
#                                     watches from older resourceVersions get 410 Gone
#   apiserver.sh token DIR NS SA      a token for service account NS/SA (1 h)
#
# Logs: DIR/logs/*.log. Needs the binaries of hack/build-upstream.sh.
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
cmd=${1:-}
dir=${2:-}
[[ -n $cmd && -n $dir ]] || { sed -n '2,20p' "$0" >&2; exit 2; }
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
# shellcheck source=hack/lib/pki.sh
source "$root/hack/lib/pki.sh"
# shellcheck source=hack/lib/proc.sh
source "$root/hack/lib/proc.sh"
# Pid files DIR/NAME.pid, logs DIR/logs/NAME.log; every process's command
# line names DIR (its data dir, kubeconfig or cert dir).
PROC_RUN=$dir PROC_LOGS=$dir/logs PROC_MARK=$dir/

die() { echo "apiserver.sh: $*" >&2; [[ -d $dir/logs ]] && tail -n 20 "$dir"/logs/*.log >&2 2>/dev/null; exit 1; }

free_port() {
  python3 - <<'EOF'
import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()
EOF
}

# The harness's own CA (not the local cluster's): the apiserver's serving
# certificate, the cluster-admin's client certificate (O=system:masters), the
# service-account signing key. Kept while valid (hack/lib/pki.sh), so a
# restart reuses them.
make_pki() {
  local p=$dir/pki
  pki_ca "$p" ca vireo-test-ca &&
    pki_issue "$p" apiserver "/CN=kube-apiserver" "$pki_server_ext
subjectAltName = IP:127.0.0.1, DNS:localhost, DNS:kubernetes, DNS:kubernetes.default, DNS:kubernetes.default.svc" &&
    pki_issue "$p" admin "/O=system:masters/CN=vireo-test-admin" "$pki_client_ext" &&
    pki_signing_key "$p" sa || die "creating the test PKI in $p failed"
}

start_apiserver() {
  local p=$dir/pki rc=0
  proc_spawn kube-apiserver "$BIN/kube-apiserver" \
    --bind-address=127.0.0.1 --secure-port="$APISERVER_PORT" \
    --advertise-address=127.0.0.1 --endpoint-reconciler-type=none \
    --etcd-servers="http://127.0.0.1:$ETCD_PORT" \
    --tls-cert-file="$p/apiserver.crt" --tls-private-key-file="$p/apiserver.key" \
    --client-ca-file="$p/ca.crt" \
    --authorization-mode=RBAC \
    --service-account-issuer=https://kubernetes.default.svc \
    --service-account-key-file="$p/sa.pub" --service-account-signing-key-file="$p/sa.key" \
    --service-cluster-ip-range=10.96.0.0/24 \
    --allow-privileged=true \
    --cert-dir="$dir/apiserver-certs" \
    --v=1
  proc_wait_healthy apiserver_ready 60 "$(cat "$dir/kube-apiserver.pid")" || rc=$?
  case $rc in
    0) ;;
    2) die "kube-apiserver exited" ;;
    *) die "kube-apiserver not ready after 60 s" ;;
  esac
}

apiserver_ready() {
  local p=$dir/pki
  curl -sf --max-time 3 --cacert "$p/ca.crt" --cert "$p/admin.crt" --key "$p/admin.key" \
    "https://127.0.0.1:$APISERVER_PORT/readyz" >/dev/null 2>&1
}
etcd_healthy() { curl -sf --max-time 3 "http://127.0.0.1:$ETCD_PORT/health" >/dev/null 2>&1; }

# Service accounts, their tokens and owner-reference garbage collection.
start_controller_manager() {
  proc_spawn kube-controller-manager "$BIN/kube-controller-manager" --kubeconfig="$dir/kubeconfig" \
    --bind-address=127.0.0.1 --secure-port=0 \
    --controllers=serviceaccount,serviceaccount-token,garbagecollector,namespace \
    --service-account-private-key-file="$dir/pki/sa.key" \
    --root-ca-file="$dir/pki/ca.crt" --leader-elect=false \
    --v=1
}

load_env() {
  [[ -f $dir/env ]] || die "no harness in $dir (run: $0 start $dir)"
  # shellcheck disable=SC1091
  source "$dir/env"
}

case $cmd in
  start)
    if [[ -f $dir/env ]]; then
      load_env
      if [[ -n $(proc_pid kube-apiserver) ]]; then
        echo "$dir/kubeconfig"; exit 0
      fi
    fi
    BIN=$("$root/hack/build-upstream.sh") || die "building the upstream binaries failed"
    mkdir -p "$dir/logs"
    make_pki
    ETCD_PORT=$(free_port) ETCD_PEER_PORT=$(free_port) APISERVER_PORT=$(free_port)
    cat > "$dir/env" <<EOF
BIN=$BIN
ETCD_PORT=$ETCD_PORT
APISERVER_PORT=$APISERVER_PORT
EOF
    proc_spawn etcd "$BIN/etcd" --name=vireo-test --data-dir="$dir/etcd" \
      --listen-client-urls="http://127.0.0.1:$ETCD_PORT" \
      --advertise-client-urls="http://127.0.0.1:$ETCD_PORT" \
      --listen-peer-urls="http://127.0.0.1:$ETCD_PEER_PORT" \
      --initial-advertise-peer-urls="http://127.0.0.1:$ETCD_PEER_PORT" \
      --initial-cluster="vireo-test=http://127.0.0.1:$ETCD_PEER_PORT" \
      --unsafe-no-fsync --log-level=warn
    proc_wait_healthy etcd_healthy 20 "$(cat "$dir/etcd.pid")" || die "etcd did not become healthy"
    start_apiserver
    pki_kubeconfig "$dir/kubeconfig" "https://127.0.0.1:$APISERVER_PORT" "$dir/pki" admin ||
      die "writing $dir/kubeconfig failed"
    start_controller_manager
    kubectl=("$BIN/kubectl" --kubeconfig="$dir/kubeconfig")
    "${kubectl[@]}" apply -f "$root/crds/" >/dev/null || die "installing the CRDs failed"
    # kubectl wait fails at once, instead of waiting, on a CRD whose status
    # has no conditions yet ("accessor error: <nil>"): ask again until 60 s.
    crds_by=$((SECONDS + 60))
    until waited=$("${kubectl[@]}" wait --for=condition=Established --timeout=10s \
      crd/virtualmachines.kubevirt.io crd/virtualmachineinstances.kubevirt.io \
      crd/datavolumes.cdi.kubevirt.io 2>&1); do
      ((SECONDS < crds_by)) || die "the CRDs did not become Established: $waited"
      sleep 0.2
    done
    for _ in $(seq 1 120); do
      "${kubectl[@]}" get serviceaccount default -n default >/dev/null 2>&1 && break
      sleep 0.25
    done
    echo "$dir/kubeconfig"
    ;;
  stop)
    proc_stop_all 10 kube-controller-manager kube-apiserver
    proc_stop etcd
    rm -f "$dir/env"
    ;;
  restart-apiserver)
    load_env
    proc_stop kube-controller-manager
    pid=$(proc_pid kube-apiserver)
    if [[ -n $pid ]]; then
      kill -9 "$pid" 2>/dev/null || true
      while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
    fi
    start_apiserver
    # The controller manager does not always recover its informers after the
    # apiserver vanished under it; a fresh one does.
    start_controller_manager
    ;;
  compact)
    load_env
    # etcd's JSON gateway: read the current revision, then compact at it.
    rev=$(curl -sf -X POST "http://127.0.0.1:$ETCD_PORT/v3/kv/range" -d '{"key":"AA=="}' |
      python3 -c 'import json,sys; print(json.load(sys.stdin)["header"]["revision"])') ||
      die "reading etcd's revision failed"
    curl -sf -X POST "http://127.0.0.1:$ETCD_PORT/v3/kv/compaction" \
      -d "{\"revision\": \"$rev\", \"physical\": true}" >/dev/null || die "compaction failed"
    echo "$rev"
    ;;
  token)
    load_env
    "$BIN/kubectl" --kubeconfig="$dir/kubeconfig" create token "${4:?service account}" \
      -n "${3:?namespace}" --duration=1h
    ;;
  *)
    sed -n '2,20p' "$0" >&2; exit 2 ;;
esac
