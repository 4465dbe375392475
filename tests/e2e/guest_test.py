#!/usr/bin/env python3
"""T3: a real distribution and the pod network, as a KubeVirt user has them.

- The pod network through passt: a VM whose interface lists no ports, a
  Service selecting its launcher pod, and a client pod that reaches a port
  the manifest never listed (the test disk's web server, port 80) through
  the Service; the guest's DHCP lease carries KubeVirt's masquerade
  addresses and the pod's resolver, through which the guest resolves a
  Service's cluster DNS name and connects to it by that name. Round trip
  and bulk transfer from the client pod to the guest through the Service
  are printed as timings.
- Debian 12 with the real cloud-init (images/debian-cloud/), booted from a
  containerDisk: user-data (a user with an ssh key, write_files, runcmd),
  the meta-data hostname, and networkData v2 naming the interface enp1s0 as
  a KubeVirt user writes it, all checked on the console. Debian on a claim
  kept across `virtctl stop`/`start` is datavolume_test.py's.
- The guest's metrics (metrics.py): KubeVirt's series from the launcher pod
  move as the guest computes and writes; the controller counts VMIs.
- virtctl's ways in besides the console (access.py): port-forward and vnc
  on the test disk's guest, ssh and scp into Debian with the key cloud-init
  installed, and a VM that does not exist or does not run.

Installs the chart (emulation on: the KVM path is kvm_test.py's) and
uninstalls it. Uses e2e_test.py's helpers; tests/e2e/run.sh runs it.

  guest_test.py --cluster-dir DIR --virtctl PATH [--logs DIR]
"""
import json
import os
import re
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.dont_write_bytecode = True  # no __pycache__ in the source tree
import access  # noqa: E402
import e2e_test  # noqa: E402
import metrics  # noqa: E402
from e2e_test import BOOT_LIMIT, NS, RELEASE_NS, check, timings  # noqa: E402

CHART = os.path.join(e2e_test.ROOT, "manifests", "chart")
DEBIAN_IMAGE = "vireo.local/debian-cloud:12"
DEBIAN_BOOT_LIMIT = 420  # s from apply to cloud-init's marker, under TCG on a busy machine
CLIENT_IMAGE_REPO = "vireo.local/vireo-launcher"  # has a static busybox


def apply(c, obj):
    return subprocess.run([os.path.join(c.bin, "kubectl"), "--kubeconfig", c.kubeconfig, "apply", "-f", "-"],
                          input=json.dumps(obj), capture_output=True, text=True, timeout=60)


def test_disk_vm(name):
    """The test disk, its interface listing no ports (the default one)."""
    return {
        "apiVersion": "kubevirt.io/v1", "kind": "VirtualMachine",
        "metadata": {"name": name, "namespace": NS},
        "spec": {"runStrategy": "Always", "template": {"spec": {
            "domain": {"memory": {"guest": "128Mi"}, "devices": {
                "disks": [{"name": "containerdisk", "disk": {"bus": "virtio"}}],
                "interfaces": [{"name": "default", "masquerade": {}}]}},
            "networks": [{"name": "default", "pod": {}}],
            "volumes": [{"name": "containerdisk", "containerDisk": {
                "image": "vireo.local/test-disk:v1", "imagePullPolicy": "IfNotPresent"}}]}}}}


# A well-formed key nobody holds, for guests nobody logs into.
UNUSED_SSH_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOvireoT3testkeyonlyxxxxxxxxxxxxxxxxxxxxxx vireo-t3"


def user_data(stamp, ssh_public_key=UNUSED_SSH_KEY):
    return f"""#cloud-config
users:
  - name: vireo
    groups: [sudo]
    shell: /bin/bash
    sudo: ALL=(ALL) NOPASSWD:ALL
    ssh_authorized_keys:
      - {ssh_public_key}
write_files:
  - path: /etc/vireo-written
    content: VIREO-WRITE-FILES-{stamp}
runcmd:
  - echo "VIREO-PERSIST-BEFORE $(cat /var/lib/vireo-persist 2>/dev/null || echo none)" > /dev/ttyS0
  - echo VIREO-PERSIST-{stamp} > /var/lib/vireo-persist && sync
  - echo "VIREO-USER $(id -un vireo) $(cat /home/vireo/.ssh/authorized_keys | cut -d' ' -f3)" > /dev/ttyS0
  - echo "VIREO-FILE $(cat /etc/vireo-written)" > /dev/ttyS0
  - echo "VIREO-HOSTNAME $(hostname)" > /dev/ttyS0
  - for i in $(seq 30); do ip -4 -o addr show dev enp1s0 | grep -q inet && break; sleep 1; done
  - echo "VIREO-ADDR $(ip -4 -o addr show dev enp1s0 | tr -s ' ' | cut -d' ' -f2,4)" > /dev/ttyS0
  - echo "VIREO-ROUTE $(ip -4 route show default | tr -s ' ' | cut -d' ' -f1-5)" > /dev/ttyS0
  - echo VIREO-CLOUD-INIT-DONE > /dev/ttyS0
"""


NETWORK_DATA = """version: 2
ethernets:
  enp1s0:
    dhcp4: true
"""


def debian_vm(name, root_volume, stamp, ssh_public_key):
    return {
        "apiVersion": "kubevirt.io/v1", "kind": "VirtualMachine",
        "metadata": {"name": name, "namespace": NS},
        "spec": {"runStrategy": "Always", "template": {"spec": {
            "hostname": f"{name}-host",
            "domain": {"cpu": {"cores": 1}, "memory": {"guest": "512Mi"}, "devices": {
                "disks": [{"name": "root", "disk": {"bus": "virtio"}},
                          {"name": "cloudinit", "disk": {"bus": "virtio"}}],
                "interfaces": [{"name": "default", "masquerade": {}}]}},
            "networks": [{"name": "default", "pod": {}}],
            "volumes": [root_volume,
                        {"name": "cloudinit", "cloudInitNoCloud": {
                            "userData": user_data(stamp, ssh_public_key), "networkData": NETWORK_DATA}}]}}}}


def check_debian_boot(c, name, tag, con, t0, stamp, persisted=None):
    """Everything cloud-init was asked for, read on the console."""
    done = con.expect(r"VIREO-CLOUD-INIT-DONE", DEBIAN_BOOT_LIMIT)
    out = con.output()
    if not check(f"{tag}: cloud-init's runcmd ran (marker on virtctl console)", done, out[-2500:]):
        return False
    timings.append((f"{tag}: VM create -> cloud-init runcmd marker", time.monotonic() - t0))
    e2e_test.check_launcher_security(c, name, tag)
    check(f"{tag}: meta-data hostname", f"VIREO-HOSTNAME {name}-host" in out, _lines(out, "VIREO-HOSTNAME"))
    check(f"{tag}: users: user vireo with its ssh key", "VIREO-USER vireo vireo-t3" in out, _lines(out, "VIREO-USER"))
    check(f"{tag}: write_files", f"VIREO-FILE VIREO-WRITE-FILES-{stamp}" in out, _lines(out, "VIREO-FILE"))
    check(f"{tag}: networkData naming enp1s0 took effect: DHCP address 10.0.2.2/24 on enp1s0",
          "VIREO-ADDR enp1s0 10.0.2.2/24" in out, _lines(out, "VIREO-ADDR"))
    check(f"{tag}: default route via the masquerade gateway 10.0.2.1",
          "VIREO-ROUTE default via 10.0.2.1 dev enp1s0" in out, _lines(out, "VIREO-ROUTE"))
    if persisted is not None:
        check(f"{tag}: data written before the stop is read back after the start",
              f"VIREO-PERSIST-BEFORE {persisted}" in out, _lines(out, "VIREO-PERSIST-BEFORE"))
    return True


def _lines(text, prefix):
    return "\n".join(l for l in text.splitlines() if prefix in l)[-600:] or text[-1200:]


def network_checks(c, client_image):
    """A port never listed reaches the guest through a Service; timings."""
    name = "netvm"
    p = apply(c, test_disk_vm(name))
    if not check("net: apply a VM whose interface lists no ports", p.returncode == 0, p.stderr):
        return
    con = c.console(name, "net")
    check("net: VMI Running", c.wait("running", lambda: c.vmi_running(name), BOOT_LIMIT))
    check("net: guest ready", con.expect(r"VIREO-TEST-DISK READY", BOOT_LIMIT), con.output()[-1500:])
    check("net: DHCP from passt: 10.0.2.2/24 via 10.0.2.1",
          con.expect(r"VIREO-NET: eth0 10\.0\.2\.2/24 gateway 10\.0\.2\.1", 90), con.output()[-800:])
    # virtctl's ways in besides the console, on this guest: its web server
    # through port-forward, its display through vnc; and on a VM that is
    # not running.
    access.port_forward_checks(c, name)
    access.vnc_checks(c, name)
    metrics.metrics_checks(c, name, con)
    halted = test_disk_vm("halted")
    halted["spec"]["runStrategy"] = "Halted"
    p = apply(c, halted)
    check("net: apply a Halted VM", p.returncode == 0, p.stderr)
    access.bad_input_checks(c, "halted")
    con.send("cat /etc/resolv.conf\n")
    pods = c.items("pods", selector=f"vm.kubevirt.io/name={name}")
    pod_resolv = c.kubectl("exec", "-n", NS, pods[0]["metadata"]["name"], "-c", "compute", "--",
                           "/bin/busybox", "cat", "/etc/resolv.conf").stdout if pods else ""
    servers = re.findall(r"^nameserver\s+(\S+)", pod_resolv, re.M)
    check("net: the guest's resolver is the pod's",
          servers and con.expect(r"nameserver " + re.escape(servers[0]), 30),
          f"pod: {pod_resolv!r}\nguest: {con.output()[-400:]}")

    # The cluster's DNS through the pod's resolver: a Service's name resolves
    # in the guest and a connection to it by name succeeds (busybox's nc;
    # its wget crashes on names, a static-NSS fault of that busybox).
    api_ip = (c.get("service", "kubernetes", ns="default") or {}).get("spec", {}).get("clusterIP", "?")
    con.send("nslookup kubernetes.default.svc.cluster.local\n")
    check("net: the guest resolves a Service's name (kubernetes.default.svc.cluster.local)",
          con.expect(r"Address:?\s+" + re.escape(api_ip) + r"\b", 30), con.output()[-600:])
    con.send("echo | nc -w 5 kubernetes.default.svc.cluster.local 443 && echo VIREO-SVC-$((40+2))\n")
    check("net: the guest reaches that Service by its name", con.expect(r"VIREO-SVC-42", 30),
          con.output()[-600:])

    svc = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "netvm-web", "namespace": NS},
           "spec": {"selector": {"vm.kubevirt.io/name": name},
                    "ports": [{"name": "http", "port": 8080, "targetPort": 80},
                              {"name": "bulk", "port": 9000, "targetPort": 9000}]}}
    p = apply(c, svc)
    check("net: a Service selecting the VM's launcher pod", p.returncode == 0, p.stderr)
    client = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "netclient", "namespace": NS},
              "spec": e2e_test.restricted({"terminationGracePeriodSeconds": 1, "containers": [{
                  "name": "c", "image": client_image, "imagePullPolicy": "IfNotPresent",
                  "command": ["/bin/busybox", "sleep", "3600"]}]})}
    p = apply(c, client)
    ok = p.returncode == 0 and c.wait("client", lambda: (c.get("pod", "netclient") or {}).get("status", {}).get("phase") == "Running", 120)
    if not check("net: a client pod runs", ok, p.stderr):
        return con
    ip = (c.get("service", "netvm-web") or {}).get("spec", {}).get("clusterIP", "")

    def exec_client(script, timeout=120):
        return c.kubectl("exec", "-n", NS, "netclient", "--", "/bin/busybox", "sh", "-c", script, timeout=timeout)

    # busybox's wget is of no use in that image (its static NSS lookups crash):
    # HTTP by hand over nc.
    get = f"/bin/busybox printf 'GET / HTTP/1.0\\r\\n\\r\\n' | /bin/busybox nc {ip} 8080"
    got = None
    for _ in range(30):
        r = exec_client(get)
        if "VIREO-TEST-DISK HTTP OK" in r.stdout:
            got = r
            break
        time.sleep(2)
    check("net: the guest's port 80, never listed, answers through the Service", got,
          "last reply: " + (r.stdout + r.stderr)[-400:])
    if not got:
        return con
    # Timings inside the client pod, from /proc/uptime (10 ms steps; the
    # image has a busybox without date's %N, and only /bin/busybox and sh).
    bb = "/bin/busybox"
    uptime = f"{bb} cut -d' ' -f1 /proc/uptime"

    def elapsed(out):
        lines = out.strip().splitlines()
        try:
            return float(lines[-1]) - float(lines[-2])
        except (IndexError, ValueError):
            return None

    # Round trip: one small HTTP request at a time (connect, request, reply).
    n = 50
    r = exec_client(f"{uptime}; i=0; while [ $i -lt {n} ]; do {get} | {bb} grep -q 'HTTP OK' || echo FAIL; "
                    f"i=$((i+1)); done; {uptime}")
    seconds = elapsed(r.stdout)
    if check(f"net: {n} HTTP requests pod -> Service -> guest", r.returncode == 0 and "FAIL" not in r.stdout and seconds,
             r.stdout[-300:] + r.stderr[-300:]):
        timings.append(("net: HTTP request round trip pod -> Service -> guest (passt), mean", seconds / n))
    # Bulk: 64 MiB into `nc -l` in the guest.
    con.send("nc -l -p 9000 > /dev/null; echo VIREO-BULK-$((40+2))\n")
    time.sleep(2)
    r = exec_client(f"{uptime}; {bb} dd if=/dev/zero bs=65536 count=1024 2>/dev/null | {bb} nc {ip} 9000; {uptime}",
                    timeout=300)
    seconds = elapsed(r.stdout)
    received = con.expect(r"VIREO-BULK-42", 120)
    if check("net: 64 MiB pod -> Service -> guest", r.returncode == 0 and seconds and received,
             r.stdout[-300:] + r.stderr[-300:] + con.output()[-300:]):
        print(f"measure net: bulk 64 MiB pod -> Service -> guest (passt): {64 * 1.048576 / seconds:.1f} MB/s",
              flush=True)
    return con


def main():
    args, c = e2e_test.cluster_from_command_line()

    c.helm("uninstall", "vireo", "-n", RELEASE_NS, "--wait")
    c.kubectl("delete", "namespace", NS, "--ignore-not-found", "--wait=true", timeout=300)
    p = c.helm("install", "vireo", CHART, "-n", RELEASE_NS, "--create-namespace", "--wait",
               "--timeout", "5m", "--set", "emulation=on")
    check("guests: helm install (emulation on)", p.returncode == 0, p.stdout + p.stderr)
    e2e_test.create_namespace(c)
    dep = c.get("deployment", "vireo-controller", ns=RELEASE_NS) or {}
    args_now = dep.get("spec", {}).get("template", {}).get("spec", {}).get("containers", [{}])[0].get("args", [])
    launcher_image = next((a.split("=", 1)[1] for a in args_now if a.startswith("--launcher-image=")), "")
    check("guests: the controller names its launcher image", launcher_image, " ".join(args_now))

    stamp = str(int(time.time()))
    key, public_key = access.ssh_key(args.logs)
    t0 = time.monotonic()
    cd = apply(c, debian_vm("debian-cd", {"name": "root", "containerDisk": {
        "image": DEBIAN_IMAGE, "imagePullPolicy": "IfNotPresent"}}, stamp, public_key))
    check("debian-cd: apply", cd.returncode == 0, cd.stderr)
    cd_con = c.console("debian-cd", "debian-cd")

    # The network checks run while the Debian guest boots. Debian on a PVC
    # kept across stop/start is datavolume_test.py's (imported by a
    # DataVolume, as users fill claims).
    net_con = network_checks(c, launcher_image)
    if net_con:
        net_con.close()

    if check_debian_boot(c, "debian-cd", "debian-cd", cd_con, t0, stamp):
        access.ssh_checks(c, "debian-cd", key, "debian-cd-host", args.logs)
    cd_con.close()
    c.kubectl("delete", "vm", "debian-cd", "-n", NS, "--wait=false")
    with open(os.path.join(args.logs, "controller-guests.log"), "w") as f:
        f.write(c.kubectl("logs", "-n", RELEASE_NS, "deployment/vireo-controller", "--tail=2000").stdout)
    c.kubectl("delete", "namespace", NS, "--wait=true", timeout=300)
    p = c.helm("uninstall", "vireo", "-n", RELEASE_NS, "--wait")
    check("guests: helm uninstall", p.returncode == 0, p.stderr)

    return e2e_test.summary("guests")


if __name__ == "__main__":
    sys.exit(main())
