# shellcheck shell=bash
# Part of hack/cluster-up.sh (sourced by it, in order): the cluster's
# certificates and the kubeconfig of each component, made with
# hack/lib/pki.sh in $PKI and $STATE. Everything is kept while valid, so a
# re-run changes no file and restarts nothing.

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
