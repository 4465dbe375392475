# shellcheck shell=bash
# Part of hack/cluster-up.sh (sourced by it, in order): the cluster DNS,
# CoreDNS as a Deployment behind the Service kube-system/kube-dns ($DNS_IP),
# applied on every run (kubectl apply changes nothing when nothing changed).

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
