#!/usr/bin/env python3
"""bench/start_bench: where the time of a VM start goes on the local cluster,
phase by phase, from `kubectl apply` of a VM to its guest's prompt. Prints
figures; asserts nothing (it exits non-zero only when a VM does not start).

Each round applies one VM (the test disk's containerDisk, 128 MiB, 1 vCPU,
no interface), watches its VMI and launcher pod with `kubectl get --watch`
(each change stamped when it arrives here, so the phases have this
machine's clock's resolution, not the second-granular timestamps the
objects carry), attaches `virtctl console`, and waits for the guest's
`VIREO-TEST-DISK READY`. Then it deletes the VM and waits for its pod to go.
Printed: each phase's time after the apply (median, min, max over the
rounds), and the median step from the phase before; then the API writes of
a start, from the apiserver's apiserver_request_total read before the apply
and once the VM shows Ready: Vireo's (the VM, the VMI, the launcher pod)
and the rest (the kubelet's, the scheduler's, Events of all components).
The first --warmup starts (1) are not counted.

Needs the local cluster (hack/cluster-up.sh) with Vireo's images loaded
(tests/e2e/run.sh or images/build.sh + hack/cluster-load-images.sh).
Installs the chart with its defaults if no release `vireo` exists (and
removes it after); works in namespace vireo-bench-start (deleted at the end).

  bench/start_bench.py [--cluster-dir DIR] --virtctl PATH [--count N] [--warmup N] [--image IMAGE]
"""
import argparse
import json
import os
import random
import re
import statistics
import subprocess
import sys
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "e2e"))
sys.dont_write_bytecode = True  # no __pycache__ in the source tree
from console import Console  # noqa: E402

sys.path.insert(0, os.path.join(ROOT, "bench"))
from cluster import CACHE, Kube  # noqa: E402

NS = "vireo-bench-start"
LIMIT = 300  # s for one start under TCG


class Watch:
    """`kubectl get KIND --watch -o json` in NS: calls on_object(obj, t) for
    every object it prints, t being when the line arrived (monotonic)."""

    def __init__(self, k, kind, on_object):
        self.proc = subprocess.Popen(k.kubectl_argv + ["get", kind, "-n", NS, "--watch", "-o", "json"],
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        self.on_object = on_object
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self):
        decoder = json.JSONDecoder()
        buf = ""
        for line in self.proc.stdout:
            t = time.monotonic()
            buf += line
            while True:
                text = buf.lstrip()
                if not text:
                    buf = ""
                    break
                try:
                    obj, end = decoder.raw_decode(text)
                except ValueError:
                    break  # an object not complete yet
                buf = text[end:]
                self.on_object(obj, t)

    def stop(self):
        self.proc.kill()
        self.proc.wait()


def vm(name, image):
    return {
        "apiVersion": "kubevirt.io/v1", "kind": "VirtualMachine",
        "metadata": {"name": name, "namespace": NS},
        "spec": {"runStrategy": "Always", "template": {"spec": {
            "domain": {"memory": {"guest": "128Mi"},
                       "devices": {"autoattachPodInterface": False,
                                   "disks": [{"name": "containerdisk", "disk": {"bus": "virtio"}}]}},
            "volumes": [{"name": "containerdisk",
                         "containerDisk": {"image": image,
                                           "imagePullPolicy": "IfNotPresent"}}]}}}}


WRITE_VERBS = ("POST", "PUT", "PATCH", "DELETE", "APPLY")


def write_counts(k):
    """apiserver_request_total's writes, summed over codes and scopes, keyed
    "VERB resource[/subresource]"."""
    p = k.kubectl("get", "--raw", "/metrics")
    if p.returncode != 0:
        sys.exit(f"start_bench: the apiserver's metrics: {p.stderr}")
    counts = {}
    for line in p.stdout.splitlines():
        if not line.startswith("apiserver_request_total{"):
            continue
        labels = dict(re.findall(r'(\w+)="([^"]*)"', line[:line.index("}")]))
        # Leases are renewed on a clock (node heartbeats, leader election),
        # not by a start.
        if labels.get("verb") not in WRITE_VERBS or labels.get("resource") == "leases":
            continue
        sub = labels.get("subresource", "")
        key = f'{labels["verb"]} {labels["resource"]}{"/" + sub if sub else ""}'
        counts[key] = counts.get(key, 0) + float(line.rsplit(" ", 1)[1])
    return counts


def is_vireos(key):
    """A write only Vireo makes: to a VM or VMI, or a pod's creation."""
    _, resource = key.split(" ", 1)
    return resource.split("/")[0] in ("virtualmachines", "virtualmachineinstances") or key == "POST pods"


class Round:
    """The first time each phase was seen in one start."""

    def __init__(self, name):
        self.name = name
        self.t0 = None
        self.seen = {}
        self.writes = {}  # key -> writes during the start
        self.lock = threading.Lock()

    def mark(self, phase, t):
        with self.lock:
            if self.t0 is not None and phase not in self.seen:
                self.seen[phase] = t - self.t0

    def on_vmi(self, obj, t):
        if obj.get("metadata", {}).get("name") != self.name:
            return
        self.mark("VMI created", t)
        phase = obj.get("status", {}).get("phase")
        if phase:
            self.mark("VMI first status", t)
        # A fast start's first status says Running: Scheduled is never
        # written alone, and this marks when the VMI showed it or more.
        if phase in ("Scheduled", "Running"):
            self.mark("VMI Scheduled", t)
        if phase == "Running":
            self.mark("VMI Running", t)

    def on_pod(self, obj, t):
        if obj.get("metadata", {}).get("labels", {}).get("vm.kubevirt.io/name") != self.name:
            return
        self.mark("pod created", t)
        if obj.get("spec", {}).get("nodeName"):
            self.mark("pod scheduled", t)
        status = obj.get("status", {})
        for c in status.get("initContainerStatuses", []):
            if "terminated" in c.get("state", {}):
                self.mark(f"init container {c['name']} done", t)
        inits = status.get("initContainerStatuses", [])
        if inits and all("terminated" in c.get("state", {}) for c in inits):
            self.mark("init containers done", t)
        for c in status.get("containerStatuses", []):
            if "running" not in c.get("state", {}):
                continue
            # The launcher, and beside it a containerDisk's server (cd-<vol>).
            self.mark("launcher container running" if c["name"] == "compute"
                      else f"container {c['name']} running", t)
        if any(c.get("type") == "Ready" and c.get("status") == "True" for c in status.get("conditions", [])):
            self.mark("pod Ready (domain running)", t)


def report(rounds):
    phases = {}
    for r in rounds:
        for phase, t in r.seen.items():
            phases.setdefault(phase, []).append(t)
    order = sorted(phases, key=lambda p: statistics.median(phases[p]))
    print(f"\nstart_bench: {len(rounds)} VM starts; seconds after `kubectl apply` (phases as this "
          f"machine's watches saw them)")
    print(f"{'phase':44} {'median':>8} {'min':>8} {'max':>8} {'step':>8}")
    before = 0.0
    for phase in order:
        v = phases[phase]
        median = statistics.median(v)
        print(f"{phase:44} {median:8.3f} {min(v):8.3f} {max(v):8.3f} {median - before:+8.3f}")
        before = median
    print("aim: VM create -> VMI Running <= 1.5 s (median)")

    keys = sorted({key for r in rounds for key in r.writes})
    per_key = {key: statistics.median(r.writes.get(key, 0) for r in rounds) for key in keys}
    print(f"\nAPI writes of a start, `kubectl apply` to the VM Ready (median over {len(rounds)} starts):")
    for title, mine in (("Vireo's", True), ("Kubernetes' components and Events", False)):
        print(f"  {title}:")
        for key in keys:
            if is_vireos(key) == mine and per_key[key] > 0:
                print(f"    {key:44} {per_key[key]:6g}")
    # The apply's own POST of the VM is the user's.
    vireo = [sum(n for key, n in r.writes.items() if is_vireos(key)) - 1 for r in rounds]
    print(f"  Vireo's writes per start: median {statistics.median(vireo):g}, min {min(vireo):g}, "
          f"max {max(vireo):g} (the apply's POST of the VM not counted)")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cluster-dir", default=os.path.join(CACHE, "cluster"))
    ap.add_argument("--virtctl", required=True)
    ap.add_argument("--count", type=int, default=5)
    # Starts not counted first: a controller just installed elects its
    # leader before its first VM.
    ap.add_argument("--warmup", type=int, default=1)
    # Another containerDisk of the test disk: bench/big_containerdisk.sh
    # makes one of any size, to see what its size costs a start.
    ap.add_argument("--image", default="vireo.local/test-disk:v1")
    args = ap.parse_args()
    k = Kube(args.cluster_dir, "start_bench")
    installed = k.helm("status", "vireo", "-n", "vireo-system").returncode == 0
    if not installed:
        p = k.helm("install", "vireo", os.path.join(ROOT, "manifests", "chart"), "-n", "vireo-system",
                   "--create-namespace", "--wait", "--timeout", "5m")
        if p.returncode != 0:
            sys.exit(f"start_bench: helm install: {p.stderr}")
    k.kubectl("create", "namespace", NS)
    rounds = []
    current = {}
    watches = [Watch(k, "vmi", lambda o, t: current["round"].on_vmi(o, t) if "round" in current else None),
               Watch(k, "pods", lambda o, t: current["round"].on_pod(o, t) if "round" in current else None)]
    try:
        time.sleep(2)  # the watches' initial lists are in
        for i in range(args.warmup + args.count):
            # The round is known to the watches before its apply.
            current["round"] = Round(f"start-{i}")
            start_once(k, args.virtctl, args.image, current["round"], rounds)
        report(rounds[args.warmup:])
    finally:
        for w in watches:
            w.stop()
        k.kubectl("delete", "namespace", NS, "--wait=true")
        if not installed:
            k.helm("uninstall", "vireo", "-n", "vireo-system", "--wait")


def start_once(k, virtctl, image, r, rounds):
    """One start of the Round the watches hold; its VM deleted after."""
    rounds.append(r)
    # The kubelet acts on a 1 s tick (its PLEG relists containers every
    # second): start at a random point of it, or every round would land at
    # the same one and the figures would not show what a start costs.
    time.sleep(random.random())
    before = write_counts(k)
    r.t0 = time.monotonic()
    p = k.kubectl("apply", "-f", "-", input=json.dumps(vm(r.name, image)))
    if p.returncode != 0:
        sys.exit(f"start_bench: kubectl apply: {p.stderr}")
    con = Console([virtctl, "--kubeconfig", k.env["KUBECONFIG"], "-n", NS, "console", r.name, "--timeout", "5m"])
    ready = con.expect(r"VIREO-TEST-DISK READY", LIMIT)
    t_ready = time.monotonic()
    with r.lock:
        if con.first_byte_at is not None:
            r.seen["first console byte"] = con.first_byte_at - r.t0
        if ready:
            r.seen["guest prompt (VIREO-TEST-DISK READY)"] = t_ready - r.t0
    if not ready:
        sys.exit(f"start_bench: {r.name}: no guest prompt within {LIMIT} s\n{con.output()[-1500:]}\n{con.stderr()}")
    con.close()
    # The VM's status follows its VMI's: the start's writes end with it.
    deadline = time.monotonic() + 60
    while k.kubectl("get", "vm", r.name, "-n", NS, "-o", "jsonpath={.status.ready}").stdout != "true":
        if time.monotonic() > deadline:
            sys.exit(f"start_bench: {r.name} did not show Ready within 60 s of its guest's prompt")
        time.sleep(0.5)
    time.sleep(1)
    after = write_counts(k)
    r.writes = {key: n - before.get(key, 0) for key, n in after.items() if n - before.get(key, 0) > 0}
    k.kubectl("delete", "vm", r.name, "-n", NS, "--wait=true", timeout=300)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        p = k.kubectl("get", "pods", "-n", NS, "-l", f"vm.kubevirt.io/name={r.name}", "-o", "name")
        if p.returncode == 0 and not p.stdout.strip():
            return
        time.sleep(1)
    sys.exit(f"start_bench: the launcher pod of {r.name} did not go within 300 s")


if __name__ == "__main__":
    main()
