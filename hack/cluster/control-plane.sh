# shellcheck shell=bash
# Part of hack/cluster-up.sh (sourced by it, in order): etcd,
# kube-apiserver, the objects the rest needs from the start,
# kube-controller-manager and kube-scheduler, each started, restarted or left
# alone by cluster_ensure.


curl_admin=(curl -sf --max-time 3 --cacert "$PKI/ca.crt" --cert "$PKI/admin.crt" --key "$PKI/admin.key")
etcd_healthy() { curl -sf --max-time 3 "http://127.0.0.1:$ETCD_PORT/health" 2>/dev/null | grep -q '"health":"true"'; }
apiserver_healthy() { "${curl_admin[@]}" "https://$NODE_IP:$APISERVER_PORT/readyz" >/dev/null 2>&1; }
kcm_healthy() { curl -skf --max-time 3 https://127.0.0.1:10257/healthz >/dev/null 2>&1; }
scheduler_healthy() { curl -skf --max-time 3 https://127.0.0.1:10259/healthz >/dev/null 2>&1; }

cluster_ensure etcd etcd_healthy 60 "$BIN/etcd" --name=vireo --data-dir="$STATE/etcd" \
  --listen-client-urls="http://127.0.0.1:$ETCD_PORT" \
  --advertise-client-urls="http://127.0.0.1:$ETCD_PORT" \
  --listen-peer-urls="http://127.0.0.1:$ETCD_PEER_PORT" \
  --initial-advertise-peer-urls="http://127.0.0.1:$ETCD_PEER_PORT" \
  --initial-cluster="vireo=http://127.0.0.1:$ETCD_PEER_PORT" \
  --listen-metrics-urls="" --log-level=warn

# Node,RBAC + NodeRestriction: the kubelet may only touch its own node and
# pods. --kubelet-*: kubectl exec/logs/port-forward go through the kubelet,
# whose serving certificate is checked against the cluster CA.
cluster_ensure kube-apiserver apiserver_healthy 120 "$BIN/kube-apiserver" \
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
cluster_ensure kube-controller-manager kcm_healthy 60 "$BIN/kube-controller-manager" \
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

cluster_ensure kube-scheduler scheduler_healthy 60 "$BIN/kube-scheduler" \
  --kubeconfig="$STATE/kube-scheduler.kubeconfig" \
  --authentication-kubeconfig="$STATE/kube-scheduler.kubeconfig" \
  --authorization-kubeconfig="$STATE/kube-scheduler.kubeconfig" \
  --bind-address=127.0.0.1 --secure-port=10259 \
  --leader-elect=false --v=1
