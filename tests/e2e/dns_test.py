#!/usr/bin/env python3
"""T3: the local cluster's DNS (CoreDNS, Service kube-system/kube-dns, set up
by hack/cluster-up.sh; docs/cluster.md, "Cluster DNS"). A client pod with the
default dnsPolicy gets the cluster DNS and the search domains in its
resolv.conf, and resolves the API's Service and a Service of another
namespace by their full names, a Service of its own namespace by its short
name (through the search domains), and a Service created after the pod
started. busybox's nslookup applies the search domains only to names without
a dot, so NAME.NAMESPACE is not tried. VM guests get the pod's resolvers
from their DHCP server (passt, QEMU's user network), so this is also the
server a guest asks. Uses e2e_test.py's helpers; needs no Vireo image but the
cluster's busybox (or the launcher image, which has one).

  dns_test.py --cluster-dir DIR --virtctl PATH [--logs DIR]   (virtctl unused)
"""
import json
import os
import re
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.dont_write_bytecode = True  # no __pycache__ in the source tree
import e2e_test  # noqa: E402
from e2e_test import check, cluster_from_command_line, summary, timings  # noqa: E402

NS = "vireo-dns"
DNS_IP = "10.96.0.10"  # hack/lib/cluster.sh
DOMAIN = "cluster.local"


def client_image(cluster_dir):
    """The cluster's busybox image, or else the launcher image of the chart's
    appVersion (it has /bin/busybox too; tests/e2e/run.sh imports it)."""
    with open(os.path.join(cluster_dir, "env")) as f:
        env = dict(line.strip().split("=", 1) for line in f if "=" in line)
    if env.get("VIREO_BUSYBOX_IMAGE"):
        return env["VIREO_BUSYBOX_IMAGE"], ["/bin/sleep", "600"]
    with open(os.path.join(e2e_test.ROOT, "manifests", "chart", "Chart.yaml")) as f:
        version = re.search(r'^appVersion:\s*"?([^"\s]+)', f.read(), re.M).group(1)
    return f"vireo.local/vireo-launcher:{version}", ["/bin/busybox", "sleep", "600"]


def apply(c, objects):
    return subprocess.run([os.path.join(c.bin, "kubectl"), "--kubeconfig", c.kubeconfig, "apply", "-f", "-"],
                          input="\n---\n".join(json.dumps(o) for o in objects), capture_output=True, text=True,
                          timeout=60)


def service(name, ns=NS):
    # No endpoints needed: a ClusterIP Service's name resolves to its IP.
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": ns},
            "spec": {"selector": {"app": name}, "ports": [{"port": 80, "protocol": "TCP"}]}}


def lookup(c, pod, name):
    """busybox nslookup in the pod: (the addresses it printed for the name, its output)."""
    p = c.kubectl("exec", "-n", NS, pod, "--", "/bin/busybox", "nslookup", name, timeout=60)
    out = p.stdout + p.stderr
    # The answer follows "Name:"; the server's own address comes before it.
    answer = out.split("Name:", 1)[1] if "Name:" in out else ""
    return re.findall(r"Address(?: \d+)?:\s*(\d+\.\d+\.\d+\.\d+)", answer), out


def resolves(c, name, want, timeout):
    """Looks NAME up until it gives WANT (CoreDNS may see a Service created a
    moment ago a little later): (whether it did, the last output)."""
    deadline = time.monotonic() + timeout
    while True:
        got, out = lookup(c, "client", name)
        if (want and want in got) or time.monotonic() > deadline:
            return bool(want and want in got), out
        time.sleep(1)


def main():
    args, c = cluster_from_command_line()
    c.kubectl("delete", "namespace", NS, "--ignore-not-found", "--wait=true", timeout=180)

    # ---- what cluster-up deployed
    svc = c.get("service", "kube-dns", ns="kube-system") or {}
    check(f"dns: Service kube-system/kube-dns has clusterIP {DNS_IP}",
          svc.get("spec", {}).get("clusterIP") == DNS_IP, json.dumps(svc.get("spec", {})))
    dep = c.get("deployment", "coredns", ns="kube-system") or {}
    check("dns: Deployment kube-system/coredns available",
          dep.get("status", {}).get("availableReplicas", 0) >= 1, json.dumps(dep.get("status", {})))
    dns_pods = c.items("pods", ns="kube-system", selector="k8s-app=kube-dns")
    if dns_pods:
        sc = dns_pods[0]["spec"]["containers"][0].get("securityContext", {})
        check("dns: CoreDNS runs as non-root with no capabilities",
              dns_pods[0]["spec"].get("securityContext", {}).get("runAsNonRoot")
              and sc.get("capabilities", {}).get("drop") == ["ALL"], json.dumps(sc))

    # ---- a client pod and two Services
    image, command = client_image(args.cluster_dir)
    c.kubectl("create", "namespace", NS)
    t0 = time.monotonic()
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "client", "namespace": NS},
           "spec": {"terminationGracePeriodSeconds": 0, "automountServiceAccountToken": False,
                    "containers": [{"name": "client", "image": image, "imagePullPolicy": "IfNotPresent",
                                    "command": command}]}}
    p = apply(c, [service("near"), service("far", ns="default"), pod])
    check(f"dns: client pod ({image}) and Services created", p.returncode == 0, p.stdout + p.stderr)

    def running():
        return (c.get("pod", "client", ns=NS) or {}).get("status", {}).get("phase") == "Running" or None
    check("dns: client pod Running", c.wait("client", running, 120),
          c.kubectl("describe", "pod", "-n", NS, "client").stdout[-1500:])
    timings.append(("dns: client pod create -> Running", time.monotonic() - t0))

    conf = c.kubectl("exec", "-n", NS, "client", "--", "/bin/busybox", "cat", "/etc/resolv.conf").stdout
    check(f"dns: the pod's resolv.conf names {DNS_IP}",
          re.search(rf"^nameserver\s+{re.escape(DNS_IP)}\s*$", conf, re.M), conf)
    search = f"{NS}.svc.{DOMAIN} svc.{DOMAIN} {DOMAIN}"
    check(f"dns: the pod's search domains start with {search}",
          re.search(rf"^search\s+{re.escape(search)}(\s|$)", conf, re.M), conf)

    ips = {name: (c.get("service", name, ns=ns) or {}).get("spec", {}).get("clusterIP")
           for name, ns in (("kubernetes", "default"), ("near", NS), ("far", "default"))}
    cases = [(f"kubernetes.default.svc.{DOMAIN}", ips["kubernetes"]),
             ("near", ips["near"]),  # short name: through the first search domain
             (f"far.default.svc.{DOMAIN}", ips["far"])]
    for name, want in cases:
        t1 = time.monotonic()
        ok, out = resolves(c, name, want, 30)
        check(f"dns: {name} resolves to {want}", ok, out)
        timings.append((f"dns: nslookup {name} (incl. kubectl exec)", time.monotonic() - t1))

    # A Service created now: CoreDNS watches the API, no restart or cache in the way.
    t1 = time.monotonic()
    p = apply(c, [service("late")])
    late_ip = (c.wait("late", lambda: c.get("service", "late", ns=NS), 30) or {}).get("spec", {}).get("clusterIP")
    ok, out = resolves(c, "late", late_ip, 60)
    check(f"dns: a Service created after the pod (late -> {late_ip}) resolves", p.returncode == 0 and ok,
          p.stderr + out)
    if ok:
        timings.append(("dns: Service create -> its name resolves", time.monotonic() - t1))
    got, out = lookup(c, "client", f"no-such-service.{NS}.svc.{DOMAIN}")
    check("dns: an unknown Service name does not resolve", not got and re.search(r"NXDOMAIN|can't find", out), out)

    with open(os.path.join(args.logs, "coredns.log"), "w") as f:
        f.write(c.kubectl("logs", "-n", "kube-system", "deployment/coredns", "--tail=500").stdout)
    c.kubectl("delete", "service", "far", "-n", "default", "--ignore-not-found")
    c.kubectl("delete", "namespace", NS, "--wait=false")

    return summary("dns")


if __name__ == "__main__":
    sys.exit(main())
