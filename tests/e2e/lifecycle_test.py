#!/usr/bin/env python3
"""T3: what a VM's life asks of the controller and the launcher pod beyond
booting (docs/virtctl.md, docs/launcher-pod.md):

- `virtctl stop --grace-period N` reaches the guest: a guest that answers the
  ACPI power button only after 60 s (longer than the VM's own 30 s grace
  period and the pod's 45 s) is given N = 150 s and powers off cleanly
  (its shutdown marker on the console) instead of being destroyed at 30 s.
- cloud-init from a Secret: `cloudInitNoCloud.secretRef` and
  `networkDataSecretRef` name Secrets the launcher pod mounts; the guest runs
  the Secret's runcmd.
- The VMI template's annotations reach the launcher pod.
- The launcher pod's memory request holds a guest that fills its RAM and
  writes to its disks for a minute (docs/controller.md, "Memory"): with
  limits.memory set, the pod's limit is its request; the container is never
  OOM-killed and the pod cgroup's unreclaimable memory (usage minus page
  cache, read on the node every half second) stays under the request.

Installs the chart (emulation on) in a namespace enforcing PodSecurity
"baseline" (the VMs have a pod-network interface: docs/launcher-pod.md) and
uninstalls it. Uses e2e_test.py's helpers; tests/e2e/run.sh
runs it.

  lifecycle_test.py --cluster-dir DIR --virtctl PATH [--logs DIR]
"""
import json
import os
import re
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.dont_write_bytecode = True  # no __pycache__ in the source tree
import e2e_test  # noqa: E402
from e2e_test import NS, RELEASE_NS, check, cluster_from_command_line, run, summary, timings  # noqa: E402

CHART = os.path.join(e2e_test.ROOT, "manifests", "chart")
GUEST_DELAY = 60  # s the guest waits after the power button before it powers off
GRACE = 150       # virtctl stop --grace-period


def apply(c, *objects):
    return run([os.path.join(c.bin, "kubectl"), "--kubeconfig", c.kubeconfig, "apply", "-f", "-"],
               input_text="\n---\n".join(json.dumps(o) for o in objects))


def vm(name, volumes_extra=(), disks_extra=(), annotations=None):
    template_meta = {"labels": {"kubevirt.io/vm": name}}
    if annotations:
        template_meta["annotations"] = annotations
    return {
        "apiVersion": "kubevirt.io/v1", "kind": "VirtualMachine",
        "metadata": {"name": name, "namespace": NS},
        "spec": {"runStrategy": "Always", "template": {"metadata": template_meta, "spec": {
            "domain": {"memory": {"guest": "128Mi"},
                       "devices": {"disks": [{"name": "containerdisk", "disk": {"bus": "virtio"}},
                                             *disks_extra]}},
            "volumes": [{"name": "containerdisk",
                         "containerDisk": {"image": "vireo.local/test-disk:v1",
                                           "imagePullPolicy": "IfNotPresent"}},
                        *volumes_extra]}}}}


def launcher_pod(c, name):
    pods = [p for p in c.items("pods", selector=f"vm.kubevirt.io/name={name}")
            if p.get("status", {}).get("phase") == "Running"]
    return pods[0] if pods else None


def grace_period_checks(c):
    name = "grace-vm"
    p = apply(c, vm(name))
    if not check("grace: VM applied", p.returncode == 0, p.stderr):
        return
    con = c.console(name, "grace")
    ready = con.expect(r"VIREO-TEST-DISK READY", e2e_test.BOOT_LIMIT)
    if not check("grace: guest ready", ready, con.output()[-1500:] + con.stderr()):
        return
    pod = launcher_pod(c, name)
    check("grace: the launcher pod's own grace period is the VM's 30 s + 15 s",
          pod is not None and pod["spec"].get("terminationGracePeriodSeconds") == 45,
          json.dumps(pod["spec"].get("terminationGracePeriodSeconds") if pod else None))
    # The test disk's acpid runs this script on the power button: make the
    # guest take GUEST_DELAY s to shut down, longer than the pod's 45 s.
    con.send("printf '#!/bin/sh\\necho VIREO-GRACE-PRESSED >/dev/console\\nsleep %d\\nexec poweroff\\n' "
             f"{GUEST_DELAY} >/etc/acpi/PWRF/00000080 && echo VIREO-GRACE-ARMED-$((40+2))\n")
    check("grace: the guest's power button handler delays the power-off",
          con.expect(r"VIREO-GRACE-ARMED-42", 60), con.output()[-800:])
    t0 = time.monotonic()
    p = c.virtctl("stop", name, "--grace-period", str(GRACE))
    check(f"grace: virtctl stop --grace-period {GRACE}", p.returncode == 0, p.stdout + p.stderr)
    check("grace: the guest saw the power button", con.expect(r"VIREO-GRACE-PRESSED", 60),
          con.output()[-800:])
    deleting = c.wait("pod deletion", lambda: [
        x for x in c.items("pods", selector=f"vm.kubevirt.io/name={name}")
        if x["metadata"].get("deletionTimestamp")], 60)
    check(f"grace: the launcher pod is deleted with the VMI's new grace period ({GRACE} s + 15 s)",
          deleting and deleting[0]["metadata"].get("deletionGracePeriodSeconds") == GRACE + 15,
          json.dumps([x["metadata"].get("deletionGracePeriodSeconds") for x in deleting or []]))
    off = con.expect(r"VIREO-TEST-DISK POWEROFF", GUEST_DELAY + 60)
    elapsed = time.monotonic() - t0
    check(f"grace: the guest powered off cleanly after {GUEST_DELAY} s, past the pod's 45 s",
          off and elapsed >= GUEST_DELAY, f"after {elapsed:.0f} s\n" + con.output()[-1200:])
    timings.append(("grace: virtctl stop --grace-period -> guest POWEROFF marker", elapsed))
    stopped = c.wait("stopped", lambda: (c.get("vm", name) or {}).get("status", {}).get(
        "printableStatus") == "Stopped", 120)
    check("grace: VM Stopped", stopped, json.dumps((c.get("vm", name) or {}).get("status")))
    con.close()
    c.kubectl("delete", "vm", name, "-n", NS, "--wait=true", timeout=200)


def secret_and_annotation_checks(c):
    name = "secret-vm"
    user_data = "#cloud-config\nruncmd:\n  - echo VIREO-SECRET-USERDATA-$((6*7))\n"
    secrets = [{"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "ci-user", "namespace": NS},
                "stringData": {"userdata": user_data}},
               {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "ci-net", "namespace": NS},
                "stringData": {"networkData": "version: 2\nethernets: {}\n"}}]
    machine = vm(name,
                 volumes_extra=[{"name": "cloudinit", "cloudInitNoCloud": {
                     "secretRef": {"name": "ci-user"}, "networkDataSecretRef": {"name": "ci-net"}}}],
                 disks_extra=[{"name": "cloudinit", "disk": {"bus": "virtio"}}],
                 annotations={"example.com/owner": "team-a"})
    p = apply(c, *secrets, machine)
    if not check("secret: Secrets and a VM with secretRef and networkDataSecretRef applied", p.returncode == 0,
                 p.stderr):
        return
    con = c.console(name, "secret")
    ran = con.expect(r"VIREO-SECRET-USERDATA-42", e2e_test.BOOT_LIMIT)
    check("secret: the guest ran the runcmd of the Secret's userdata", ran, con.output()[-1500:] + con.stderr())
    con.expect(r"VIREO-TEST-DISK READY", 60)
    con.send("cat /mnt/cidata/network-config; echo VIREO-NET-END\n")
    check("secret: network-config is the networkDataSecretRef Secret's networkData",
          con.expect(r"ethernets: \{\}\s+VIREO-NET-END", 60), con.output()[-800:])
    pod = launcher_pod(c, name)
    check("annotations: the VMI template's annotation is on the launcher pod",
          pod is not None and pod["metadata"].get("annotations", {}).get("example.com/owner") == "team-a",
          json.dumps(pod["metadata"].get("annotations") if pod else None))
    con.close()
    c.kubectl("delete", "vm", name, "-n", NS, "--wait=true", timeout=200)

    # A Secret that is missing: the VM does not start, and says why.
    missing = vm("nosecret-vm", volumes_extra=[{"name": "cloudinit", "cloudInitNoCloud": {
        "secretRef": {"name": "absent"}}}], disks_extra=[{"name": "cloudinit", "disk": {"bus": "virtio"}}])
    p = apply(c, missing)
    check("secret: a VM naming a missing Secret is accepted", p.returncode == 0, p.stderr)
    events = c.wait("mount event", lambda: [
        e for e in c.items("events") if "absent" in e.get("message", "") and e.get("type") == "Warning"], 120)
    check("secret: a Warning Event names the missing Secret", events,
          c.kubectl("get", "events", "-n", NS).stdout[-1500:])
    c.kubectl("delete", "vm", "nosecret-vm", "-n", NS, "--wait=true", timeout=200)


FILL_SECONDS = 60  # s of disk writes after the guest's RAM is full


def quantity_bytes(text):
    """A memory quantity as the controller writes it (e.g. "1154Mi"); -1 if not one."""
    m = re.fullmatch(r"(\d+)(Ki|Mi|Gi|Ti|k|M|G|T)?", text or "")
    if not m:
        return -1
    scale = {None: 1, "Ki": 1 << 10, "Mi": 1 << 20, "Gi": 1 << 30, "Ti": 1 << 40,
             "k": 10**3, "M": 10**6, "G": 10**9, "T": 10**12}[m.group(2)]
    return int(m.group(1)) * scale


def pod_cgroup(pod_uid):
    """The pod's memory cgroup directory on this node (the kubelet's
    cgroupfs driver, as hack/cluster/node.sh sets it; cgroup v1 or v2), or None."""
    for base in ("/sys/fs/cgroup/memory", "/sys/fs/cgroup"):
        for dirpath, dirnames, _ in os.walk(base):
            if dirpath.count("/") - base.count("/") > 4:
                dirnames[:] = []
                continue
            for d in dirnames:
                if d == f"pod{pod_uid}":  # the cgroupfs driver's name
                    return os.path.join(dirpath, d)
    return None


def cgroup_unreclaimable(path):
    """Charged bytes minus page cache, over the pod's containers."""
    stat = {}
    with open(os.path.join(path, "memory.stat")) as f:
        for line in f:
            k, v = line.split()
            stat[k] = int(v)
    v1 = os.path.exists(os.path.join(path, "memory.usage_in_bytes"))
    with open(os.path.join(path, "memory.usage_in_bytes" if v1 else "memory.current")) as f:
        usage = int(f.read())
    prefix = "total_" if v1 else ""
    return usage - stat.get(prefix + "active_file", 0) - stat.get(prefix + "inactive_file", 0)


def memory_overhead_checks(c):
    name = "memory-vm"
    machine = {
        "apiVersion": "kubevirt.io/v1", "kind": "VirtualMachine",
        "metadata": {"name": name, "namespace": NS},
        "spec": {"runStrategy": "Always", "template": {"spec": {
            "domain": {"cpu": {"cores": 1},
                       "resources": {"requests": {"memory": "1Gi"}, "limits": {"memory": "1Gi"}},
                       "devices": {"autoattachPodInterface": False,
                                   "disks": [{"name": "containerdisk", "disk": {"bus": "virtio"}},
                                             {"name": "scratch", "disk": {"bus": "virtio"}}]}},
            "volumes": [{"name": "containerdisk",
                         "containerDisk": {"image": "vireo.local/test-disk:v1",
                                           "imagePullPolicy": "IfNotPresent"}},
                        {"name": "scratch", "emptyDisk": {"capacity": "256Mi"}}]}}}}
    p = apply(c, machine)
    if not check("memory: a 1 vCPU / 1 GiB / 2-disk VM with limits.memory applied", p.returncode == 0, p.stderr):
        return
    con = c.console(name, "memory")
    ready = con.expect(r"VIREO-TEST-DISK READY", e2e_test.BOOT_LIMIT)
    pod = launcher_pod(c, name)
    if not check("memory: guest ready", ready and pod is not None, con.output()[-1500:] + con.stderr()):
        return
    compute = [x for x in pod["spec"]["containers"] if x["name"] == "compute"][0]
    request = quantity_bytes(compute["resources"]["requests"]["memory"])
    limit = quantity_bytes(compute["resources"].get("limits", {}).get("memory", "0"))
    check("memory: the pod's memory limit is its request", request == limit > 1 << 30,
          json.dumps(compute["resources"]))
    cgroup = pod_cgroup(pod["metadata"]["uid"])
    if not check("memory: the pod's memory cgroup is found on the node", cgroup, pod["metadata"]["uid"]):
        return
    peak = cgroup_unreclaimable(cgroup)
    # Fill the guest's RAM (a tmpfs up to what it has free but 48 MiB), then
    # write to both disks for FILL_SECONDS, each write on the disk before
    # dd returns.
    con.send("mkdir -p /run/fill && mount -t tmpfs -o size=100% tmpfs /run/fill && "
             "n=$(awk '/MemAvailable/ {print int($2/1024) - 48}' /proc/meminfo) && "
             "dd if=/dev/zero of=/run/fill/f bs=1M count=$n 2>/dev/null; echo VIREO-FILLED-$((40+2)) $n; "
             f"b=0; w=0; end=$(($(date +%s) + {FILL_SECONDS})); while [ $(date +%s) -lt $end ]; do "
             "dd if=/dev/urandom of=/mnt/boot/w bs=1M count=4 conv=fsync 2>/dev/null && b=$((b+1)); "
             "dd if=/dev/urandom of=/mnt/data/w bs=1M count=4 conv=fsync 2>/dev/null && w=$((w+1)); "
             "done; echo VIREO-WROTE-$((50+5)) boot=$b data=$w\n")
    deadline = time.monotonic() + FILL_SECONDS + 600
    wrote = False
    while time.monotonic() < deadline and not wrote:
        try:
            peak = max(peak, cgroup_unreclaimable(cgroup))
        except OSError:
            break  # the cgroup is gone: the pod ended
        wrote = "VIREO-WROTE-55" in con.output()
        time.sleep(0.5)
    m = re.search(r"VIREO-FILLED-42 (\d+)", con.output())
    check("memory: the guest filled its RAM (700 MiB or more of its 1 GiB in a tmpfs)",
          m and int(m.group(1)) >= 700, con.output()[-800:])
    w = re.search(r"VIREO-WROTE-55 boot=(\d+) data=(\d+)", con.output())
    check(f"memory: the guest wrote 4 MiB at a time to both disks for {FILL_SECONDS} s",
          w and int(w.group(1)) > 0 and int(w.group(2)) > 0, con.output()[-800:])
    pod = c.get("pod", pod["metadata"]["name"]) or {}
    statuses = pod.get("status", {}).get("containerStatuses", [])
    oom = [x["name"] for x in statuses
           if x.get("restartCount", 0) or "OOMKilled" in json.dumps(x.get("lastState", {})) or
           "OOMKilled" in json.dumps(x.get("state", {}))]
    check("memory: no container of the launcher pod was OOM-killed or restarted", statuses and not oom,
          json.dumps(statuses))
    check("memory: the VMI is still Running", c.vmi_running(name) is not None)
    check(f"memory: the pod's peak unreclaimable memory ({peak >> 20} MiB) stayed under its request "
          f"({request >> 20} MiB)", 0 < peak < request, f"peak {peak}, request {request}")
    print(f"figure  memory: launcher pod request {request >> 20} MiB, peak unreclaimable {peak >> 20} MiB "
          f"(1 GiB guest, 1 vCPU, 2 disks, TCG)", flush=True)
    con.close()
    c.kubectl("delete", "vm", name, "-n", NS, "--wait=true", timeout=200)


def main():
    args, c = cluster_from_command_line()
    c.helm("uninstall", "vireo", "-n", RELEASE_NS, "--wait")
    c.kubectl("delete", "namespace", NS, "--ignore-not-found", "--wait=true", timeout=300)
    e2e_test.create_namespace(c)
    p = c.helm("install", "vireo", CHART, "-n", RELEASE_NS, "--create-namespace", "--wait",
               "--timeout", "5m", "--set", "emulation=on")
    if check("lifecycle: helm install (emulation on)", p.returncode == 0, p.stdout + p.stderr):
        grace_period_checks(c)
        secret_and_annotation_checks(c)
        memory_overhead_checks(c)
    with open(os.path.join(args.logs, "controller-lifecycle.log"), "w") as f:
        f.write(c.kubectl("logs", "-n", RELEASE_NS, "deployment/vireo-controller", "--tail=2000").stdout)
    c.kubectl("delete", "namespace", NS, "--wait=true", timeout=300)
    p = c.helm("uninstall", "vireo", "-n", RELEASE_NS, "--wait")
    check("lifecycle: helm uninstall", p.returncode == 0, p.stderr)
    return summary("lifecycle")


if __name__ == "__main__":
    sys.exit(main())
