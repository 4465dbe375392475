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

make_pki() {
  local p=$dir/pki
  mkdir -p "$p"
  [[ -f $p/admin.crt ]] && return 0
  (
    cd "$p"
    openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -days 30 \
      -subj "/CN=vireo-test-ca" 2>/dev/null
    cat > server.ext <<'EOF'
subjectAltName = IP:127.0.0.1, DNS:localhost, DNS:kubernetes, DNS:kubernetes.default, DNS:kubernetes.default.svc
extendedKeyUsage = serverAuth
EOF
    openssl req -newkey rsa:2048 -nodes -keyout server.key -out server.csr \
      -subj "/CN=kube-apiserver" 2>/dev/null
    openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 30 \
      -extfile server.ext -out server.crt 2>/dev/null
    printf 'extendedKeyUsage = clientAuth\n' > client.ext
    # O=system:masters: the cluster-admin of the harness.
    openssl req -newkey rsa:2048 -nodes -keyout admin.key -out admin.csr \
      -subj "/O=system:masters/CN=vireo-test-admin" 2>/dev/null
    openssl x509 -req -in admin.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 30 \
      -extfile client.ext -out admin.crt 2>/dev/null
    openssl genrsa -out sa.key 2048 2>/dev/null
    openssl rsa -in sa.key -pubout -out sa.pub 2>/dev/null
  ) || die "creating the test PKI in $p failed"
}

write_kubeconfig() {
  local p=$dir/pki
  cat > "$dir/kubeconfig" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: vireo-test
  cluster:
    server: https://127.0.0.1:$APISERVER_PORT
    certificate-authority: $p/ca.crt
users:
- name: vireo-test-admin
  user:
    client-certificate: $p/admin.crt
    client-key: $p/admin.key
contexts:
- name: vireo-test
  context: {cluster: vireo-test, user: vireo-test-admin, namespace: default}
current-context: vireo-test
EOF
}

start_apiserver() {
  local p=$dir/pki
  "$BIN/kube-apiserver" \
    --bind-address=127.0.0.1 --secure-port="$APISERVER_PORT" \
    --advertise-address=127.0.0.1 --endpoint-reconciler-type=none \
    --etcd-servers="http://127.0.0.1:$ETCD_PORT" \
    --tls-cert-file="$p/server.crt" --tls-private-key-file="$p/server.key" \
    --client-ca-file="$p/ca.crt" \
    --authorization-mode=RBAC \
    --service-account-issuer=https://kubernetes.default.svc \
    --service-account-key-file="$p/sa.pub" --service-account-signing-key-file="$p/sa.key" \
    --service-cluster-ip-range=10.96.0.0/24 \
    --allow-privileged=true \
    --cert-dir="$dir/apiserver-certs" \
    --v=1 >>"$dir/logs/kube-apiserver.log" 2>&1 &
  echo $! > "$dir/kube-apiserver.pid"
  wait_ready
}

wait_ready() {
  local p=$dir/pki i
  for i in $(seq 1 240); do
    if curl -sf --cacert "$p/ca.crt" --cert "$p/admin.crt" --key "$p/admin.key" \
        "https://127.0.0.1:$APISERVER_PORT/readyz" >/dev/null 2>&1; then
      return 0
    fi
    kill -0 "$(cat "$dir/kube-apiserver.pid")" 2>/dev/null || die "kube-apiserver exited"
    sleep 0.25
  done
  die "kube-apiserver not ready after 60 s"
}

# Service accounts, their tokens and owner-reference garbage collection.
start_controller_manager() {
  "$BIN/kube-controller-manager" --kubeconfig="$dir/kubeconfig" \
    --bind-address=127.0.0.1 --secure-port=0 \
    --controllers=serviceaccount,serviceaccount-token,garbagecollector,namespace \
    --service-account-private-key-file="$dir/pki/sa.key" \
    --root-ca-file="$dir/pki/ca.crt" --leader-elect=false \
    --v=1 >>"$dir/logs/kube-controller-manager.log" 2>&1 &
  echo $! > "$dir/kube-controller-manager.pid"
}

stop_process() { # name
  local pid
  [[ -f $dir/$1.pid ]] || return 0
  pid=$(cat "$dir/$1.pid")
  kill "$pid" 2>/dev/null || true
  for _ in $(seq 1 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
  kill -9 "$pid" 2>/dev/null || true
  rm -f "$dir/$1.pid"
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
      if kill -0 "$(cat "$dir/kube-apiserver.pid" 2>/dev/null)" 2>/dev/null; then
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
    "$BIN/etcd" --name=vireo-test --data-dir="$dir/etcd" \
      --listen-client-urls="http://127.0.0.1:$ETCD_PORT" \
      --advertise-client-urls="http://127.0.0.1:$ETCD_PORT" \
      --listen-peer-urls="http://127.0.0.1:$ETCD_PEER_PORT" \
      --initial-advertise-peer-urls="http://127.0.0.1:$ETCD_PEER_PORT" \
      --initial-cluster="vireo-test=http://127.0.0.1:$ETCD_PEER_PORT" \
      --unsafe-no-fsync --log-level=warn >>"$dir/logs/etcd.log" 2>&1 &
    echo $! > "$dir/etcd.pid"
    for _ in $(seq 1 80); do
      curl -sf "http://127.0.0.1:$ETCD_PORT/health" >/dev/null 2>&1 && break
      sleep 0.25
    done
    curl -sf "http://127.0.0.1:$ETCD_PORT/health" >/dev/null || die "etcd did not become healthy"
    start_apiserver
    write_kubeconfig
    start_controller_manager
    kubectl=("$BIN/kubectl" --kubeconfig="$dir/kubeconfig")
    "${kubectl[@]}" apply -f "$root/crds/" >/dev/null || die "installing the CRDs failed"
    "${kubectl[@]}" wait --for=condition=Established --timeout=60s \
      crd/virtualmachines.kubevirt.io crd/virtualmachineinstances.kubevirt.io \
      crd/datavolumes.cdi.kubevirt.io >/dev/null \
      || die "the CRDs did not become Established"
    for _ in $(seq 1 120); do
      "${kubectl[@]}" get serviceaccount default -n default >/dev/null 2>&1 && break
      sleep 0.25
    done
    echo "$dir/kubeconfig"
    ;;
  stop)
    for c in kube-controller-manager kube-apiserver etcd; do stop_process "$c"; done
    rm -f "$dir/env"
    ;;
  restart-apiserver)
    load_env
    stop_process kube-controller-manager
    pid=$(cat "$dir/kube-apiserver.pid")
    kill -9 "$pid" 2>/dev/null || true
    while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
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
