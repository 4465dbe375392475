#!/usr/bin/env python3
"""T3: Vireo on a real single-node cluster (hack/cluster-up.sh) with its
images imported (tests/e2e/run.sh does both). Installs the Helm chart, boots
every example, drives the guests through `virtctl console` over pipes, and
checks stop/start/restart/delete and uninstall as a user would see them.
Prints one line per check, the timings, and "e2e: N passed, M failed".

  e2e_test.py --cluster-dir DIR --virtctl PATH [--logs DIR]
"""
import argparse
import json
import os
import shlex
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from console import Console  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
NS = "vireo-e2e"
RELEASE_NS = "vireo-system"
PROMPT = r"vireo-test-disk:/# "
BOOT_LIMIT = 300  # s from `kubectl apply` to a guest prompt, under TCG
IDLE_SECONDS = 180

results = []
timings = []


def check(name, ok, detail=""):
    results.append((name, bool(ok)))
    print(("ok      " if ok else "FAILED  ") + name + ("" if ok or not detail else "\n        " + detail.replace("\n", "\n        ")), flush=True)
    return bool(ok)


def run(argv, timeout=120, check_rc=False, input_text=None):
    p = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, input=input_text)
    if check_rc and p.returncode != 0:
        raise RuntimeError(f"{shlex.join(argv)}: exit {p.returncode}: {p.stderr.strip()}")
    return p


class Cluster:
    def __init__(self, cluster_dir, virtctl, logs):
        env = {}
        with open(os.path.join(cluster_dir, "env")) as f:
            for line in f:
                if "=" in line:
                    k, v = line.strip().split("=", 1)
                    env[k] = v
        self.kubeconfig = env["KUBECONFIG"]
        self.bin = env["BIN"]
        # Where the node holds the launcher's seccomp profile for passt
        # (hack/cluster/node.sh), for the chart's launcher.seccompProfile.
        self.seccomp_profile = env.get("VIREO_LAUNCHER_SECCOMP_PROFILE", "")
        self.virtctl_bin = virtctl
        self.logs = logs

    def kubectl(self, *args, timeout=120):
        return run([os.path.join(self.bin, "kubectl"), "--kubeconfig", self.kubeconfig, *args],
                   timeout=timeout)

    def helm(self, *args, timeout=300):
        return run([os.path.join(self.bin, "helm"), "--kubeconfig", self.kubeconfig, *args],
                   timeout=timeout)

    def virtctl(self, *args, timeout=60):
        return run([self.virtctl_bin, "--kubeconfig", self.kubeconfig, "-n", NS, *args],
                   timeout=timeout)

    def get(self, kind, name, ns=NS):
        p = self.kubectl("get", kind, name, "-n", ns, "-o", "json")
        return json.loads(p.stdout) if p.returncode == 0 else None

    def items(self, kind, ns=NS, selector=None):
        args = ["get", kind, "-n", ns, "-o", "json"]
        if selector:
            args += ["-l", selector]
        p = self.kubectl(*args)
        return json.loads(p.stdout)["items"] if p.returncode == 0 else []

    def wait(self, what, predicate, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = predicate()
            if value:
                return value
            time.sleep(1)
        return None

    def vmi_running(self, name, not_uid=None):
        vmi = self.get("vmi", name)
        if vmi and vmi.get("status", {}).get("phase") == "Running" and vmi["metadata"]["uid"] != not_uid:
            return vmi
        return None

    def console(self, name, tag, ns=NS):
        argv = [self.virtctl_bin, "--kubeconfig", self.kubeconfig, "-n", ns, "console", name,
                "--timeout", "5m"]
        return Console(argv, os.path.join(self.logs, f"console-{tag}.log"))


def boot_and_talk(c, name, manifest, tag, extra=None):
    """Applies the manifest, waits for the VMI to run, attaches, reads the
    boot marker and gets an answer to a typed command. Returns the open console."""
    t0 = time.monotonic()
    p = c.kubectl("apply", "-n", NS, "-f", manifest)
    if not check(f"{tag}: kubectl apply {os.path.basename(manifest)}", p.returncode == 0, p.stderr):
        return None
    con = c.console(name, tag)  # waits for Running itself, like a user would
    vmi = c.wait("running", lambda: c.vmi_running(name), BOOT_LIMIT)
    t_running = time.monotonic() - t0
    check(f"{tag}: VMI {name} Running", vmi is not None)
    ready = con.expect(r"VIREO-TEST-DISK READY", BOOT_LIMIT)
    t_ready = time.monotonic() - t0
    check(f"{tag}: guest marker VIREO-TEST-DISK READY through virtctl console", ready,
          "console so far:\n" + con.output()[-1500:] + "\nvirtctl stderr:\n" + con.stderr())
    if con.first_byte_at is not None:
        timings.append((f"{tag}: VM create -> VMI Running", t_running))
        timings.append((f"{tag}: VM create -> first console byte", con.first_byte_at - t0))
    if ready:
        timings.append((f"{tag}: VM create -> guest prompt ready (VIREO-TEST-DISK READY)", t_ready))
    if extra:
        extra(con)
    con.send("echo VIREO-ECHO-$((6*7))\n")
    check(f"{tag}: a command typed into the console answers",
          con.expect(r"VIREO-ECHO-42", 60), con.output()[-800:])
    return con


def boot_example(c, name, manifest, tag, extra):
    """boot_and_talk, then the console closed and the manifest's objects deleted."""
    con = boot_and_talk(c, name, manifest, tag, extra)
    if con:
        con.close()
        c.kubectl("delete", "-n", NS, "-f", manifest, "--wait=true", timeout=200)


# ---- PodSecurity (docs/launcher-pod.md). Launcher pods run as uid 107 with no
# capabilities. A VM without a pod-network interface passes "restricted"
# whole; one with an interface runs passt, whose sandbox needs a user
# namespace (and mount, umount2, pivot_root) that seccomp RuntimeDefault
# refuses. Without the chart's launcher.seccompProfile its launcher container
# has no seccomp profile: "baseline", and every other rule of "restricted"; in
# RESTRICTED_NS, which enforces restricted, such a VM's pod is refused for its
# seccomp profile alone. With it (the node holds the profile,
# hack/cluster/node.sh), that container runs under the Localhost profile and
# the VM runs in RESTRICTED_NS. The other test namespaces enforce baseline
# and warn and audit restricted.
POD_UID = 107  # the launcher image's libvirt-qemu, the pod's runAsUser
RESTRICTED_NS = "vireo-e2e-restricted"


def pod_security_labels(level):
    labels = {"pod-security.kubernetes.io/enforce": level,
              "pod-security.kubernetes.io/enforce-version": "latest"}
    if level != "restricted":
        labels.update({"pod-security.kubernetes.io/warn": "restricted",
                       "pod-security.kubernetes.io/audit": "restricted"})
    return labels


def restricted(pod_spec):
    """A helper pod's spec, made to pass PodSecurity "restricted" as uid 107."""
    pod_spec["securityContext"] = {"runAsNonRoot": True, "runAsUser": POD_UID, "runAsGroup": POD_UID,
                                   "fsGroup": POD_UID, "seccompProfile": {"type": "RuntimeDefault"}}
    for container in pod_spec.get("initContainers", []) + pod_spec.get("containers", []):
        container["securityContext"] = {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}}
    return pod_spec


def probe_pod(ns, security):
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "vireo-psa-probe", "namespace": ns},
            "spec": {"containers": [{"name": "c", "image": "vireo.local/never-pulled:v1",
                                     "securityContext": security}]}}


def create_namespace(c, ns=NS, level="baseline"):
    """Creates `ns` enforcing PodSecurity `level` and checks that the
    apiserver enforces it: a privileged pod is refused there (server-side dry
    run) while the same pod is admitted in a namespace without the label, so
    the check can fail. For "restricted", also a pod that is restricted in
    all but its seccomp profile, as a networked VM's launcher pod is."""
    namespace = {"apiVersion": "v1", "kind": "Namespace",
                 "metadata": {"name": ns, "labels": pod_security_labels(level)}}
    p = run([os.path.join(c.bin, "kubectl"), "--kubeconfig", c.kubeconfig, "apply", "-f", "-"],
            input_text=json.dumps(namespace))
    check(f"namespace {ns} created with pod-security.kubernetes.io/enforce={level}", p.returncode == 0,
          p.stderr)

    def dry_run(pod):
        return run([os.path.join(c.bin, "kubectl"), "--kubeconfig", c.kubeconfig, "create",
                    "--dry-run=server", "-f", "-"], input_text=json.dumps(pod))
    refused = dry_run(probe_pod(ns, {"privileged": True}))
    check(f"namespace {ns}: the apiserver refuses a privileged pod (PodSecurity {level})",
          refused.returncode != 0 and f"violates PodSecurity \"{level}" in refused.stderr,
          f"exit {refused.returncode}: {refused.stdout}{refused.stderr}")
    admitted = dry_run(probe_pod("default", {"privileged": True}))
    check("namespace default (no PodSecurity label): the same privileged pod is admitted, so the check above "
          "can fail", admitted.returncode == 0, admitted.stderr)
    if level == "restricted":
        pod = probe_pod(ns, {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}})
        pod["spec"]["securityContext"] = {"runAsNonRoot": True, "runAsUser": POD_UID}
        refused = dry_run(pod)
        check(f"namespace {ns}: a pod restricted in all but seccomp is refused",
              refused.returncode != 0 and "seccompProfile" in refused.stderr,
              f"exit {refused.returncode}: {refused.stdout}{refused.stderr}")


def controller_seccomp_profile(c):
    """The controller's --launcher-seccomp-profile, "" without one."""
    dep = c.get("deployment", "vireo-controller", ns=RELEASE_NS) or {}
    args = dep.get("spec", {}).get("template", {}).get("spec", {}).get("containers", [{}])[0].get("args", [])
    return next((a.split("=", 1)[1] for a in args if a.startswith("--launcher-seccomp-profile=")), "")


def check_launcher_security(c, vm_name, tag, ns=NS):
    """Reads back the running launcher pod of `vm_name`: uid/gid/fsGroup 107,
    runAsNonRoot, no capabilities or privilege escalation in any container,
    seccomp RuntimeDefault for every container but a networked VM's
    launcher container (passt), which has the controller's Localhost profile
    or, without one, none; every process in it (vireo-launcher, QEMU, passt)
    runs as 107, none as root, and under a seccomp filter where the container
    names a profile (the kernel's Seccomp: 2)."""
    pods = [p for p in c.items("pods", ns=ns, selector=f"vm.kubevirt.io/name={vm_name}")
            if p.get("status", {}).get("phase") == "Running"]
    if not check(f"{tag}: a running launcher pod to read back", pods):
        return
    pod = pods[0]
    spec = pod["spec"]
    sc = spec.get("securityContext", {})
    want = {"runAsNonRoot": True, "runAsUser": POD_UID, "runAsGroup": POD_UID, "fsGroup": POD_UID}
    check(f"{tag}: launcher pod securityContext is runAsNonRoot, uid/gid/fsGroup 107",
          all(sc.get(k) == v for k, v in want.items()), json.dumps(sc))
    containers = spec.get("initContainers", []) + spec.get("containers", [])
    bad = [x["name"] for x in containers
           if x.get("securityContext", {}).get("allowPrivilegeEscalation") is not False
           or x.get("securityContext", {}).get("capabilities", {}).get("drop") != ["ALL"]
           or x.get("securityContext", {}).get("privileged")]
    check(f"{tag}: every container of the launcher pod: allowPrivilegeEscalation false, capabilities drop ALL",
          containers and not bad, f"not so: {bad} " + json.dumps([x.get("securityContext") for x in containers]))
    vmi = c.get("vmi", vm_name, ns=ns) or {}
    networked = bool(vmi.get("spec", {}).get("domain", {}).get("devices", {}).get("interfaces"))
    pod_seccomp = sc.get("seccompProfile")
    seccomp = {x["name"]: x.get("securityContext", {}).get("seccompProfile", pod_seccomp) for x in containers}
    profile = controller_seccomp_profile(c)
    passt_seccomp = {"type": "Localhost", "localhostProfile": profile} if profile else None
    want_seccomp = {n: (passt_seccomp if networked and n == "compute" else {"type": "RuntimeDefault"})
                    for n in seccomp}
    check(f"{tag}: seccomp RuntimeDefault for every container"
          + (f" but the launcher's (passt, the VM has an interface): {passt_seccomp}" if networked else ""),
          seccomp == want_seccomp, json.dumps(seccomp))
    script = ("for d in /proc/[0-9]*; do [ -r $d/status ] || continue; "
              "echo \"$(cat $d/comm) $(grep ^Seccomp: $d/status | tr -s '\\t ' ' ') "
              "$(grep ^Uid: $d/status | tr -s '\\t ' ' ')\"; done")
    p = c.kubectl("exec", "-n", ns, pod["metadata"]["name"], "-c", "compute", "--",
                  "/bin/busybox", "sh", "-c", script)
    # "<comm> Seccomp: <mode> Uid: <real> <effective> <saved> <fs>"
    rows = [line.split() for line in p.stdout.splitlines() if "Uid:" in line and "Seccomp:" in line]
    filtered = {x[0]: x[2] for x in rows}
    procs = [[x[0]] + x[3:] for x in rows]
    names = {x[0] for x in procs}
    root = [x for x in procs if any(u == "0" for u in x[2:])]
    check(f"{tag}: vireo-launcher and QEMU{' and passt' if networked else ''} run as uid 107, "
          "no process in the pod as root",
          p.returncode == 0 and "vireo-launcher" in names and any(n.startswith("qemu-system") for n in names)
          and (not networked or any(n.startswith("passt") for n in names))
          and not root and all(x[2:] == [str(POD_UID)] * 4 for x in procs),
          p.stderr + "\n" + p.stdout)
    if want_seccomp.get("compute"):
        check(f"{tag}: every process of the launcher container runs under a seccomp filter (Seccomp: 2)",
              filtered and all(mode == "2" for mode in filtered.values()), json.dumps(filtered))


def check_caps_cache(c, vm_name, tag, ns=NS):
    """The launcher's log of the running pod of `vm_name`: under TCG, libvirt
    took QEMU's capabilities from the image's cache instead of probing QEMU
    (docs/launcher.md), also where /dev/kvm opens but the launcher chose TCG.
    Under KVM the image holds no cache for this host: the outcome is printed."""
    pods = [p for p in c.items("pods", ns=ns, selector=f"vm.kubevirt.io/name={vm_name}")
            if p.get("status", {}).get("phase") == "Running"]
    if not check(f"{tag}: a running launcher pod to read the log of", pods):
        return
    log = c.kubectl("logs", "-n", ns, pods[0]["metadata"]["name"], "-c", "compute").stdout
    lines = []
    for line in log.splitlines():
        try:
            lines.append(json.loads(line))
        except ValueError:
            pass
    mode = next((x.get("mode") for x in lines if x.get("msg") == "emulation mode"), None)
    cache = next((x.get("cache") for x in lines if "cache" in x), None)
    started = next((x for x in lines if x.get("msg") == "QEMU started"), {})
    print(f"        {tag}: emulation {mode}, capabilities cache {cache}, "
          f"domain create {started.get('createMs')} ms, QEMU started {started.get('sinceLaunchMs')} ms "
          "after the launcher", flush=True)
    if mode == "tcg":
        check(f"{tag}: under TCG the launcher's QEMU capabilities come from the image's cache (no probe)",
              cache == "used", log[-1500:])


def restricted_refusal_checks(c, examples):
    """Before the chart names a seccomp profile for passt. RESTRICTED_NS
    enforces restricted. A VM with an interface (the containerDisk example)
    cannot run there: its launcher pod is refused for its seccomp profile
    alone, and the VMI says so (Failed, the apiserver's message)."""
    create_namespace(c, RESTRICTED_NS, "restricted")
    name = "testvm"
    t0 = time.monotonic()
    p = c.kubectl("apply", "-n", RESTRICTED_NS, "-f", os.path.join(examples, "vm-containerdisk.yaml"))
    if not check("restricted: the containerDisk example created in a namespace enforcing restricted",
                 p.returncode == 0, p.stderr):
        return

    def refused():
        vmi = c.get("vmi", name, ns=RESTRICTED_NS) or {}
        events = [e for e in c.items("events", ns=RESTRICTED_NS)
                  if e.get("involvedObject", {}).get("name") == name and "violates PodSecurity" in e.get("message", "")]
        return (vmi, events) if events else None
    got = c.wait("refused", refused, 120)
    vmi, events = got if got else ({}, [])
    message = events[0].get("message", "") if events else ""
    check("restricted, no seccomp profile for passt: the launcher pod of a VM with an interface is refused for "
          "its seccomp profile only, and an Event on the VM's objects says so",
          events and "seccompProfile" in message and "allowPrivilegeEscalation" not in message
          and "runAsNonRoot" not in message and "capabilities" not in message,
          message + "\n" + c.kubectl("get", "events", "-n", RESTRICTED_NS).stdout[-1500:])
    if got:
        timings.append(("restricted: VM create -> PodSecurity refusal seen", time.monotonic() - t0))
    print(f"        VMI status: {json.dumps(vmi.get('status', {}))[:400]}", flush=True)
    c.kubectl("delete", "vm", name, "-n", RESTRICTED_NS, "--wait=true", timeout=200)


def restricted_vm_checks(c, examples):
    """With the chart's launcher.seccompProfile naming the profile the node
    holds: the same networked example runs in RESTRICTED_NS, its launcher
    container under that Localhost profile, and passt serves the guest (its
    DHCP lease, on the console). A VM without an interface
    (autoattachPodInterface: false) runs no passt and passes restricted with
    RuntimeDefault alone. Every process as 107."""
    name = "testvm"
    t0 = time.monotonic()
    p = c.kubectl("apply", "-n", RESTRICTED_NS, "-f", os.path.join(examples, "vm-containerdisk.yaml"))
    if check("restricted: the containerDisk example (an interface, passt) created again, with the "
             "launcher's seccomp profile named", p.returncode == 0, p.stderr):
        con = c.console(name, "restricted-net", ns=RESTRICTED_NS)
        running = c.wait("running", lambda: (c.get("vmi", name, ns=RESTRICTED_NS) or {}).get(
            "status", {}).get("phase") == "Running", BOOT_LIMIT)
        check("restricted: the VM with an interface runs in the namespace enforcing restricted", running,
              json.dumps((c.get("vmi", name, ns=RESTRICTED_NS) or {}).get("status", {}))[:800]
              + "\n" + c.kubectl("get", "events", "-n", RESTRICTED_NS).stdout[-1200:])
        if running:
            timings.append(("restricted: VM with interface create -> VMI Running", time.monotonic() - t0))
            check("restricted: its guest boots", con.expect(r"VIREO-TEST-DISK READY", BOOT_LIMIT),
                  con.output()[-1500:] + con.stderr())
            check("restricted: passt serves the guest under the Localhost profile: DHCP 10.0.2.2/24 via 10.0.2.1",
                  con.expect(r"VIREO-NET: eth0 10\.0\.2\.2/24 gateway 10\.0\.2\.1", 90), con.output()[-800:])
            check_launcher_security(c, name, "restricted-net", ns=RESTRICTED_NS)
        con.close()
        c.kubectl("delete", "vm", name, "-n", RESTRICTED_NS, "--wait=true", timeout=200)

    quiet = {"apiVersion": "kubevirt.io/v1", "kind": "VirtualMachine",
             "metadata": {"name": "no-network", "namespace": RESTRICTED_NS},
             "spec": {"runStrategy": "Always", "template": {"spec": {
                 "domain": {"memory": {"guest": "128Mi"},
                            "devices": {"autoattachPodInterface": False,
                                        "disks": [{"name": "containerdisk", "disk": {"bus": "virtio"}}]}},
                 "volumes": [{"name": "containerdisk",
                              "containerDisk": {"image": "vireo.local/test-disk:v1",
                                                "imagePullPolicy": "IfNotPresent"}}]}}}}
    t0 = time.monotonic()
    p = run([os.path.join(c.bin, "kubectl"), "--kubeconfig", c.kubeconfig, "apply", "-f", "-"],
            input_text=json.dumps(quiet))
    check("restricted: a VM without a network interface created there", p.returncode == 0, p.stderr)
    running = c.wait("running", lambda: (c.get("vmi", "no-network", ns=RESTRICTED_NS) or {}).get(
        "status", {}).get("phase") == "Running", BOOT_LIMIT)
    check("restricted: the VM without an interface runs in the namespace enforcing restricted", running,
          json.dumps((c.get("vmi", "no-network", ns=RESTRICTED_NS) or {}).get("status", {}))[:800]
          + "\n" + c.kubectl("get", "events", "-n", RESTRICTED_NS).stdout[-1200:])
    if running:
        timings.append(("restricted: VM without interface create -> VMI Running", time.monotonic() - t0))
        check_launcher_security(c, "no-network", "restricted", ns=RESTRICTED_NS)
    c.kubectl("delete", "vm", "no-network", "-n", RESTRICTED_NS, "--wait=true", timeout=200)
    c.kubectl("delete", "namespace", RESTRICTED_NS, "--wait=true", timeout=300)


def cluster_from_command_line():
    """The T3 scripts' common command line: --cluster-dir, --virtctl, --logs."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--cluster-dir", required=True)
    ap.add_argument("--virtctl", required=True)
    ap.add_argument("--logs", default="/tmp/vireo-e2e-logs")
    args = ap.parse_args()
    os.makedirs(args.logs, exist_ok=True)
    return args, Cluster(args.cluster_dir, args.virtctl, args.logs)


def summary(label):
    """Prints the timings and "<label>: N passed, M failed"; the exit code."""
    for what, seconds in timings:
        print(f"timing  {what}: {seconds:.3f} s")
    failed = sum(1 for _, ok in results if not ok)
    print(f"{label}: {len(results) - failed} passed, {failed} failed")
    return 1 if failed else 0


def main():
    args, c = cluster_from_command_line()
    examples = os.path.join(ROOT, "examples")

    # A clean slate: no release, no test namespace.
    c.helm("uninstall", "vireo", "-n", RELEASE_NS, "--wait")
    c.kubectl("delete", "namespace", NS, "--ignore-not-found", "--wait=true", timeout=300)

    # Helm installs a chart's CRDs only where none exist and never upgrades
    # them: on a cluster kept from an earlier run, bring them up to this
    # tree's first, as docs/chart.md tells a user upgrading to do.
    p = c.kubectl("apply", "-f", os.path.join(ROOT, "manifests", "chart", "crds"))
    check("kubectl apply -f manifests/chart/crds/ (upgrade the CRDs)", p.returncode == 0, p.stderr)

    # ---- helm install -> controller Ready
    t0 = time.monotonic()
    p = c.helm("install", "vireo", os.path.join(ROOT, "manifests", "chart"), "-n", RELEASE_NS,
               "--create-namespace", "--wait", "--timeout", "5m")
    check("helm install", p.returncode == 0, p.stdout + p.stderr)
    p = c.kubectl("rollout", "status", "-n", RELEASE_NS, "deployment/vireo-controller", "--timeout=180s",
                  timeout=200)
    check("controller Deployment Ready", p.returncode == 0, p.stdout + p.stderr)
    timings.append(("helm install -> controller Ready", time.monotonic() - t0))
    # A Lease left by an earlier release (uninstall removes the RBAC a
    # stopping controller would release it with) is taken over once it
    # expires; the VM timings below should not include that wait.
    def leading():
        lease = c.get("lease", "vireo-controller", ns=RELEASE_NS)
        holder = (lease or {}).get("spec", {}).get("holderIdentity", "")
        pods = [p["metadata"]["name"] for p in c.items("pods", ns=RELEASE_NS)]
        return holder in pods or None
    check("controller holds its Lease", c.wait("leader", leading, 60))
    timings.append(("helm install -> controller leading", time.monotonic() - t0))

    # ---- a namespace enforcing restricted: what it refuses without a
    # seccomp profile for passt, and why
    c.kubectl("delete", "namespace", RESTRICTED_NS, "--ignore-not-found", "--wait=true", timeout=300)
    restricted_refusal_checks(c, examples)

    # ---- helm upgrade: changed values reach a controller that is Ready
    # again; one names the seccomp profile the node holds for passt
    check("the cluster names the launcher's seccomp profile (VIREO_LAUNCHER_SECCOMP_PROFILE in its env)",
          c.seccomp_profile)
    p = c.helm("upgrade", "vireo", os.path.join(ROOT, "manifests", "chart"), "-n", RELEASE_NS,
               "--reuse-values", "--set", "logLevel=debug", "--set", f"launcher.seccompProfile={c.seccomp_profile}",
               "--wait", "--timeout", "5m")
    check("helm upgrade --set logLevel=debug --set launcher.seccompProfile=...", p.returncode == 0,
          p.stdout + p.stderr)
    p = c.kubectl("rollout", "status", "-n", RELEASE_NS, "deployment/vireo-controller", "--timeout=180s",
                  timeout=200)
    dep = c.get("deployment", "vireo-controller", ns=RELEASE_NS) or {}
    args_now = dep.get("spec", {}).get("template", {}).get("spec", {}).get("containers", [{}])[0].get("args", [])
    check("upgrade: controller Ready with --log-level=debug and --launcher-seccomp-profile",
          p.returncode == 0 and "--log-level=debug" in args_now
          and f"--launcher-seccomp-profile={c.seccomp_profile}" in args_now,
          p.stdout + p.stderr + " args: " + " ".join(args_now))
    create_namespace(c)

    # ---- a namespace enforcing restricted: what runs there
    restricted_vm_checks(c, examples)

    # ---- the containerDisk example; then a console left idle for 3 minutes
    testvm = boot_and_talk(c, "testvm", os.path.join(examples, "vm-containerdisk.yaml"), "containerdisk")
    if testvm:
        check_launcher_security(c, "testvm", "containerdisk")
        check_caps_cache(c, "testvm", "containerdisk")
    idle_result = {}
    if testvm:
        testvm.close()
        idle = c.console("testvm", "idle")
        idle.send("\n")
        if check("idle console: attached and prompted", idle.expect(PROMPT, 60), idle.stderr()):
            def idle_then_type():
                time.sleep(IDLE_SECONDS)
                alive = idle.alive()
                if alive:
                    idle.send("echo VIREO-IDLE-$((40+2))\n")
                idle_result["answer"] = alive and idle.expect(r"VIREO-IDLE-42", 60)
                idle_result["rc"] = idle.close()
            idle_thread = threading.Thread(target=idle_then_type)
            idle_thread.start()
        else:
            idle_thread = None
    else:
        idle_thread = None

    # ---- the PVC example: its DataVolume fills a claim of the default class
    # (no PersistentVolume made by hand); a file written before stop is read
    # after start
    stamp = str(int(time.time()))

    def write_file(con):
        dv = c.get("dv", "legacy-disk") or {}
        claims = {n: (c.get("pvc", n) or {}) for n in ("legacy-disk", "legacy-data")}
        check("pvc: DataVolume legacy-disk Succeeded; both claims Bound, of the default class",
              dv.get("status", {}).get("phase") == "Succeeded"
              and all(p.get("status", {}).get("phase") == "Bound"
                      and p.get("spec", {}).get("storageClassName") == "local-path" for p in claims.values()),
              json.dumps(dv.get("status", {})) + json.dumps({n: p.get("status", {}) for n, p in claims.items()}))
        check_launcher_security(c, "legacy-vm", "pvc")
        con.send(f"echo VIREO-PERSIST-{stamp} > /mnt/boot/persist.txt; sync; cat /mnt/boot/persist.txt\n")
        check("pvc: file written on the PVC disk", con.expect(f"\nVIREO-PERSIST-{stamp}", 60), con.output()[-800:])

    legacy = boot_and_talk(c, "legacy-vm", os.path.join(examples, "vm-pvc.yaml"), "pvc", write_file)
    if legacy:
        first = c.get("vmi", "legacy-vm")
        t_stop = time.monotonic()
        p = c.virtctl("stop", "legacy-vm")
        check("pvc: virtctl stop", p.returncode == 0 and "was scheduled to stop" in p.stdout, p.stdout + p.stderr)
        check("pvc: guest saw the ACPI power button", legacy.expect(r"VIREO-TEST-DISK ACPI POWER BUTTON", 90),
              legacy.output()[-800:])
        check("pvc: guest powered off gracefully", legacy.expect(r"VIREO-TEST-DISK POWEROFF", 90), legacy.output()[-800:])
        legacy.close()
        gone = c.wait("vmi gone", lambda: c.get("vmi", "legacy-vm") is None, 120)
        vm = c.wait("stopped", lambda: (lambda v: v if v and v.get("status", {}).get("printableStatus") == "Stopped" else None)(c.get("vm", "legacy-vm")), 60)
        check("pvc: VMI removed and VM Stopped", gone and vm, json.dumps((vm or {}).get("status", {})))
        timings.append(("pvc: virtctl stop -> VM Stopped", time.monotonic() - t_stop))
        p = c.virtctl("start", "legacy-vm")
        check("pvc: virtctl start", p.returncode == 0, p.stdout + p.stderr)
        con = c.console("legacy-vm", "pvc-again")
        check("pvc: Running again", c.wait("running", lambda: c.vmi_running("legacy-vm", first and first["metadata"]["uid"]), BOOT_LIMIT))
        check("pvc: booted again", con.expect(r"VIREO-TEST-DISK READY", BOOT_LIMIT), con.output()[-800:])
        con.send("cat /mnt/boot/persist.txt\n")
        check("pvc: the file written before the stop is read back", con.expect(f"\nVIREO-PERSIST-{stamp}", 60),
              con.output()[-800:])
        con.close()

    # ---- cloud-init NoCloud
    def cloud_init(con):
        # Printed during boot, before READY: look at everything seen so far.
        check("cloudinit: runcmd output on the console", "VIREO-CLOUD-INIT-42" in con.output(),
              con.output()[-1500:])
        check_launcher_security(c, "cloudinit-vm", "cloudinit")
        con.send("hostname\n")
        check("cloudinit: hostname from meta-data", con.expect(r"\nvireo-guest", 60), con.output()[-800:])
    boot_example(c, "cloudinit-vm", os.path.join(examples, "vm-cloudinit.yaml"), "cloudinit", cloud_init)

    # ---- an instance type and a preference size and shape the VM
    def instancetype(con):
        vmi = c.get("vmi", "instancetype-vm") or {}
        spec = vmi.get("spec", {}).get("domain", {})
        check("instancetype: the VMI has the instance type's vCPUs as the preference's cores and its memory",
              spec.get("cpu") == {"sockets": 1, "cores": 2, "threads": 1}
              and spec.get("memory", {}).get("guest") == "192Mi"
              and spec.get("devices", {}).get("disks", [{}])[0].get("disk", {}).get("bus") == "virtio",
              json.dumps(spec)[:1500])
        con.send("echo CPUS=$(grep -c ^processor /proc/cpuinfo)\n")
        check("instancetype: the guest counts 2 processors", con.expect(r"\nCPUS=2", 60), con.output()[-800:])
    boot_example(c, "instancetype-vm", os.path.join(examples, "vm-instancetype.yaml"), "instancetype",
                 instancetype)

    # ---- a kernel and initramfs from an image, no disk
    def kernel_boot(con):
        con.send("cat /proc/cmdline\n")
        check("kernelboot: the guest's kernel got the VMI's kernelArgs",
              con.expect(r"\n[^\n]*quiet vireo.example=kernel-boot", 60), con.output()[-800:])
    boot_example(c, "kernelboot-vm", os.path.join(examples, "vm-kernel-boot.yaml"), "kernelboot", kernel_boot)

    # ---- the idle console
    if idle_thread:
        idle_thread.join()
        check(f"idle console: answers after {IDLE_SECONDS} s of silence", idle_result.get("answer"),
              f"virtctl exit {idle_result.get('rc')}: " + idle.stderr() + idle.output()[-400:])

    # ---- restart -> new VMI UID; delete -> nothing left
    if testvm:
        before = c.get("vmi", "testvm")
        p = c.virtctl("restart", "testvm")
        check("virtctl restart", p.returncode == 0, p.stdout + p.stderr)
        after = c.wait("new vmi", lambda: c.vmi_running("testvm", before and before["metadata"]["uid"]), BOOT_LIMIT)
        check("restart: new VMI UID, Running", after and before and after["metadata"]["uid"] != before["metadata"]["uid"])
        p = c.kubectl("delete", "vm", "testvm", "-n", NS, "--wait=true", timeout=200)
        check("kubectl delete vm testvm", p.returncode == 0, p.stderr)
        leftover = c.wait("nothing left", lambda: (not c.get("vmi", "testvm") and not c.items("pods", selector="vm.kubevirt.io/name=testvm")) or None, 120)
        check("delete vm: VMI and launcher pod gone", leftover)
    c.kubectl("delete", "-n", NS, "-f", os.path.join(examples, "vm-pvc.yaml"), "--wait=true", timeout=200)
    left = c.wait("empty", lambda: (not c.items("vmi") and not c.items("pods")) or None, 120)
    check("no VMI or pod left in the test namespace", left,
          c.kubectl("get", "vmi,pods", "-n", NS).stdout)

    # ---- helm uninstall (the controller's log is kept for a person first)
    with open(os.path.join(args.logs, "controller.log"), "w") as f:
        f.write(c.kubectl("logs", "-n", RELEASE_NS, "deployment/vireo-controller", "--tail=2000").stdout)
    p = c.helm("uninstall", "vireo", "-n", RELEASE_NS, "--wait")
    check("helm uninstall", p.returncode == 0, p.stderr)
    gone = c.wait("no workload", lambda: (not c.items("deployments", ns=RELEASE_NS) and not c.items("pods", ns=RELEASE_NS)) or None, 120)
    check("helm uninstall leaves no Vireo workload", gone, c.kubectl("get", "all", "-n", RELEASE_NS).stdout)
    crds = c.kubectl("get", "crd", "virtualmachines.kubevirt.io")
    check("CRDs kept after uninstall (as Helm does)", crds.returncode == 0, crds.stderr)
    c.kubectl("delete", "namespace", NS, "--wait=false")

    return summary("e2e")


if __name__ == "__main__":
    sys.exit(main())
