#!/usr/bin/env python3
"""T3: DataVolumes (docs/datavolume.md) as a new user meets them on the local
cluster, with the chart installed and the default StorageClass (local-path).

- An in-cluster web server (a Deployment running the cluster's busybox
  `httpd` over a hostPath directory of the node, and its Service) serves the
  Debian 12 cloud image of images/debian-cloud/build.sh as qcow2, and its
  raw, raw.gz and qcow2.xz forms (made here with qemu-img, gzip and xz,
  cached under ~/.cache/vireo/dv-serve). Each form is imported by a
  DataVolume and the claim's disk.img is compared with the raw image.
- A VM whose dataVolumeTemplates import the qcow2 over http (spec.storage,
  no class): `kubectl get dv -w` shows ImportScheduled, ImportInProgress,
  Succeeded and the progress; Debian boots, cloud-init's runcmd prints a
  marker on `virtctl console` and writes a file; after `virtctl stop` and
  `virtctl start` the file is read back.
- A clone (source.pvc of that claim): while the first VM runs it waits with
  reason CloneSourceInUse; once the VM is stopped it is cloned, and a second
  VM boots from it and reads the file the first one wrote.
- registry and blank: a test-disk VM whose root disk is imported from the
  node's image store (docker://vireo.local/test-disk:v1), with a blank
  DataVolume and a plain claim (no class) as second and third disks; both
  get a disk.img of the claim less 5.5 % (the guest's /sys/block and the
  node's local-path directory agree).
- Bad input, each ending in a condition and a Warning Event that name the
  cause, with at most 3 attempts: a Service with nothing behind it
  (unreachable: retried, then Failed with restartCount 3), a 404, a corrupt
  qcow2 (random bytes after a real qcow2 header), a truncated image (a .xz
  file cut in half: busybox httpd cannot send fewer bytes than its
  Content-Length, so the truncated stream stands in for a truncated
  download), an image larger than its claim (2 GiB virtual into spec.pvc
  1Gi), a StorageClass that does not exist (Pending, no claim), a VM whose
  DataVolume fails (the VMI's DataVolumesReady condition says why), and a
  DataVolume named after a claim that already holds data (left alone, byte
  for byte).

Installs the chart (emulation on) and uninstalls it. Uses e2e_test.py's
helpers; tests/e2e/run.sh runs it (after images/debian-cloud/build.sh).

  datavolume_test.py --cluster-dir DIR --virtctl PATH [--logs DIR]
"""
import hashlib
import json
import os
import re
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.dont_write_bytecode = True  # no __pycache__ in the source tree
import e2e_test  # noqa: E402
from e2e_test import BOOT_LIMIT, NS, RELEASE_NS, check, cluster_from_command_line, summary, timings  # noqa: E402

CHART = os.path.join(e2e_test.ROOT, "manifests", "chart")
CACHE = os.environ.get("VIREO_CACHE_DIR", os.path.join(os.environ.get("XDG_CACHE_HOME", os.path.expanduser("~/.cache")), "vireo"))
SERVE_DIR = os.path.join(CACHE, "dv-serve")
SERVER = "dv-http"  # Deployment and Service
# The web server stands for the world outside: it serves a hostPath, which
# the PodSecurity level the VMs' namespace (NS) enforces refuses, so it lives
# in a namespace of its own.
SERVER_NS = "vireo-e2e-files"
BASE_URL = f"http://{SERVER}.{SERVER_NS}.svc"
TEST_DISK_IMAGE = "vireo.local/test-disk:v1"  # images/test-disk/containerdisk.sh
DEBIAN_BOOT_LIMIT = 420  # s from start to cloud-init's marker, under TCG on a busy machine
IMPORT_LIMIT = 300  # s for one import to end
MiB = 1 << 20
OVERHEAD = 0.055  # lib/api/importer_pod.h kFilesystemOverhead


def apply(c, *objects):
    return subprocess.run([os.path.join(c.bin, "kubectl"), "--kubeconfig", c.kubeconfig, "apply", "-f", "-"],
                          input="\n---\n".join(json.dumps(o) for o in objects), capture_output=True, text=True,
                          timeout=60)


def sh(*argv, **kw):
    return subprocess.run(argv, capture_output=True, text=True, check=True, **kw)


def busybox_image(cluster_dir):
    with open(os.path.join(cluster_dir, "env")) as f:
        env = dict(line.strip().split("=", 1) for line in f if "=" in line)
    return env.get("VIREO_BUSYBOX_IMAGE", "")


# ---- the files the server serves (made once, kept while their source is the same)

def prepare_files(debian_qcow2, test_disk_img):
    """Writes SERVE_DIR; returns the seconds it took (0 when cached)."""
    t0 = time.monotonic()
    os.makedirs(SERVE_DIR, exist_ok=True)
    st = os.stat(debian_qcow2)
    tst = os.stat(test_disk_img)
    key = f"{debian_qcow2} {st.st_size} {st.st_mtime_ns} {test_disk_img} {tst.st_size} {tst.st_mtime_ns} v1"
    key_file = os.path.join(SERVE_DIR, "key")
    if os.path.exists(key_file) and open(key_file).read() == key:
        return 0.0
    if os.path.exists(key_file):
        os.unlink(key_file)
    d = SERVE_DIR

    def out(name):
        return os.path.join(d, name)

    sh("cp", "--sparse=always", debian_qcow2, out("debian-12.qcow2.part"))
    os.replace(out("debian-12.qcow2.part"), out("debian-12.qcow2"))
    sh("qemu-img", "convert", "-O", "raw", out("debian-12.qcow2"), out("debian-12.raw.part"))
    os.replace(out("debian-12.raw.part"), out("debian-12.raw"))
    with open(out("debian-12.raw.gz.part"), "wb") as f:
        subprocess.run(["gzip", "-1", "-c", out("debian-12.raw")], stdout=f, check=True)
    os.replace(out("debian-12.raw.gz.part"), out("debian-12.raw.gz"))
    with open(out("debian-12.qcow2.xz.part"), "wb") as f:
        subprocess.run(["xz", "-1", "-T2", "-c", out("debian-12.qcow2")], stdout=f, check=True)
    os.replace(out("debian-12.qcow2.xz.part"), out("debian-12.qcow2.xz"))
    # Truncated: the test disk as .xz, cut in half.
    with open(out("truncated.img.xz"), "wb") as f:
        subprocess.run(["xz", "-1", "-c", test_disk_img], stdout=f, check=True)
    os.truncate(out("truncated.img.xz"), os.path.getsize(out("truncated.img.xz")) // 2)
    # Corrupt: a real qcow2 header, random bytes where its tables are.
    corrupt = out("corrupt.qcow2")
    sh("qemu-img", "create", "-q", "-f", "qcow2", corrupt, "64M")
    sh("qemu-io", "-c", "write -P 0x5a 0 4M", corrupt)
    with open(corrupt, "r+b") as f:
        f.seek(65536)
        f.write(os.urandom(2 * MiB))
    with open(key_file, "w") as f:
        f.write(key)
    return time.monotonic() - t0


def start_server(c, image):
    deployment = {
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": SERVER, "namespace": SERVER_NS},
        "spec": {"replicas": 1, "selector": {"matchLabels": {"app": SERVER}},
                 "template": {"metadata": {"labels": {"app": SERVER}}, "spec": {
                     "terminationGracePeriodSeconds": 0, "automountServiceAccountToken": False,
                     "containers": [{"name": "httpd", "image": image, "imagePullPolicy": "IfNotPresent",
                                     "command": ["/bin/busybox", "httpd", "-f", "-p", "8080", "-h", "/srv"],
                                     "ports": [{"containerPort": 8080}],
                                     "readinessProbe": {"tcpSocket": {"port": 8080}, "periodSeconds": 1},
                                     "volumeMounts": [{"name": "files", "mountPath": "/srv", "readOnly": True}]}],
                     "volumes": [{"name": "files", "hostPath": {"path": SERVE_DIR, "type": "Directory"}}]}}}}
    service = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": SERVER, "namespace": SERVER_NS},
               "spec": {"selector": {"app": SERVER}, "ports": [{"port": 80, "targetPort": 8080}]}}
    # Unreachable: a Service whose selector matches no pod (kube-proxy rejects).
    nothing = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "dv-nothing", "namespace": SERVER_NS},
               "spec": {"selector": {"app": "dv-nothing-here"}, "ports": [{"port": 80, "targetPort": 8080}]}}
    p = apply(c, deployment, service, nothing)
    if p.returncode != 0:
        return p.stderr
    p = c.kubectl("rollout", "status", "-n", SERVER_NS, f"deployment/{SERVER}", "--timeout=120s", timeout=150)
    return None if p.returncode == 0 else p.stdout + p.stderr


# ---- objects

def dv(name, source, storage=None, pvc=None, labels=None):
    spec = {"source": source}
    if pvc is not None:
        spec["pvc"] = pvc
    else:
        spec["storage"] = storage if storage is not None else {}
    obj = {"apiVersion": "cdi.kubevirt.io/v1beta1", "kind": "DataVolume",
           "metadata": {"name": name, "namespace": NS}, "spec": spec}
    if labels:
        obj["metadata"]["labels"] = labels
    return obj


def size(s):
    return {"resources": {"requests": {"storage": s}}}


def http(path):
    return {"http": {"url": f"{BASE_URL}/{path}"}}


def user_data(stamp):
    # runcmd runs on every boot of a new instance (Vireo's instance-id is
    # the VMI's): each boot prints what the disk held, then writes its own.
    return f"""#cloud-config
runcmd:
  - echo "VIREO-DV-BEFORE $(cat /var/lib/vireo-dv 2>/dev/null || echo none)" > /dev/ttyS0
  - echo "VIREO-DV-DATA-{stamp}-$(hostname)" > /var/lib/vireo-dv && sync
  - echo "VIREO-DV-MARKER-{stamp} $(hostname)" > /dev/ttyS0
"""


def debian_vm(name, dv_name, dv_spec, stamp):
    return {
        "apiVersion": "kubevirt.io/v1", "kind": "VirtualMachine",
        "metadata": {"name": name, "namespace": NS},
        "spec": {"runStrategy": "Always",
                 "dataVolumeTemplates": [{"metadata": {"name": dv_name}, "spec": dv_spec}],
                 "template": {"spec": {
                     "hostname": f"{name}-host",
                     "domain": {"cpu": {"cores": 1}, "memory": {"guest": "512Mi"}, "devices": {
                         "disks": [{"name": "root", "disk": {"bus": "virtio"}},
                                   {"name": "cloudinit", "disk": {"bus": "virtio"}}],
                         "interfaces": [{"name": "default", "masquerade": {}}]}},
                     "networks": [{"name": "default", "pod": {}}],
                     "volumes": [{"name": "root", "dataVolume": {"name": dv_name}},
                                 {"name": "cloudinit", "cloudInitNoCloud": {
                                     "userData": user_data(stamp),
                                     "networkData": "version: 2\nethernets:\n  enp1s0:\n    dhcp4: true\n"}}]}}}}


def test_disk_vm(name, templates, volumes):
    """The busybox test disk: first volume is the root disk; the rest extra disks."""
    return {
        "apiVersion": "kubevirt.io/v1", "kind": "VirtualMachine",
        "metadata": {"name": name, "namespace": NS},
        "spec": {"runStrategy": "Always", "dataVolumeTemplates": templates,
                 "template": {"spec": {
                     "domain": {"memory": {"guest": "128Mi"}, "devices": {
                         "disks": [{"name": v["name"], "disk": {"bus": "virtio"}} for v in volumes],
                         "interfaces": [{"name": "default", "masquerade": {}}]}},
                     "networks": [{"name": "default", "pod": {}}],
                     "volumes": volumes}}}}


# ---- observation

class DvWatch:
    """`kubectl get dv NAME -w`: the rows a user sees, with when they came."""

    def __init__(self, c, name):
        self.name = name
        self.rows = []
        self.t0 = time.monotonic()
        # The namespace's (the DataVolume does not exist yet), this one's rows.
        self.proc = subprocess.Popen([os.path.join(c.bin, "kubectl"), "--kubeconfig", c.kubeconfig, "get", "dv",
                                      "-n", NS, "-w"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                     text=True)
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.proc.stdout:
            if line.startswith("NAME ") or line.split()[:1] == [self.name]:
                self.rows.append((time.monotonic() - self.t0, line.rstrip()))

    def columns(self):
        """(seconds, PHASE, PROGRESS, RESTARTS) of each data row."""
        out = []
        for t, line in self.rows:
            f = line.split()  # NAME PHASE PROGRESS [RESTARTS] AGE; before any status: NAME AGE
            if len(f) >= 4 and f[0] != "NAME":
                out.append((t, f[1], f[2], f[3] if len(f) == 5 else ""))
        return out

    def stop(self):
        self.proc.terminate()
        self.proc.wait()


def dv_status(c, name):
    return (c.get("dv", name) or {}).get("status", {})


def condition(obj_status, type_):
    return next((x for x in obj_status.get("conditions", []) if x.get("type") == type_), {})


def wait_dv(c, name, phases, timeout):
    return c.wait(f"dv {name}", lambda: (lambda s: s if s.get("phase") in phases else None)(dv_status(c, name)),
                  timeout)


def dv_seconds(c, name):
    """Seconds from a DataVolume's creation to its Ready or final transition,
    by the apiserver's timestamps (1 s steps): a figure that does not depend
    on when this script looked."""
    obj = c.get("dv", name) or {}
    s = obj.get("status", {})
    end = condition(s, "Ready") if s.get("phase") == "Succeeded" else condition(s, "Running")
    try:
        t = [time.mktime(time.strptime(x, "%Y-%m-%dT%H:%M:%SZ"))
             for x in (obj["metadata"]["creationTimestamp"], end["lastTransitionTime"])]
    except (KeyError, ValueError):
        return None
    return t[1] - t[0]


def events_for(c, name, kind=None):
    return [e for e in c.items("events")
            if e.get("involvedObject", {}).get("name") == name
            and (kind is None or e.get("involvedObject", {}).get("kind") == kind)]


def warning(c, name, reason, kind="DataVolume"):
    return [e for e in events_for(c, name, kind) if e.get("type") == "Warning" and e.get("reason") == reason]


def claim_dir(c, claim_name):
    pvc = c.get("pvc", claim_name) or {}
    pv_name = pvc.get("spec", {}).get("volumeName", "")
    pv = c.get("pv", pv_name, ns="default") if pv_name else None
    return ((pv or {}).get("spec", {}).get("hostPath") or {}).get("path", "")


def claim_bytes(c, claim_name):
    pvc = c.get("pvc", claim_name) or {}
    q = pvc.get("status", {}).get("capacity", {}).get("storage") or \
        pvc.get("spec", {}).get("resources", {}).get("requests", {}).get("storage", "")
    return parse_quantity(q)


def parse_quantity(q):
    m = re.fullmatch(r"(\d+)(Ki|Mi|Gi|Ti|k|M|G|T)?", q or "")
    if not m:
        return None
    mult = {None: 1, "Ki": 1 << 10, "Mi": 1 << 20, "Gi": 1 << 30, "Ti": 1 << 40,
            "k": 10**3, "M": 10**6, "G": 10**9, "T": 10**12}[m.group(2)]
    return int(m.group(1)) * mult


def disk_image_bytes(claim):
    """lib/api/importer_pod.cc DiskImageBytes: claim less 5.5 %, whole MiB."""
    return int(claim * (1.0 - OVERHEAD)) // MiB * MiB


def same_prefix(a, b, n):
    """Whether the first n bytes of files a and b are equal."""
    with open(a, "rb") as fa, open(b, "rb") as fb:
        left = n
        while left > 0:
            x = fa.read(min(left, 8 * MiB))
            y = fb.read(min(left, 8 * MiB))
            if x != y or not x:
                return False
            left -= len(x)
    return True


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(MiB), b""):
            h.update(chunk)
    return h.hexdigest()


# ---- checks

def bad_input_objects(c):
    """The DataVolumes (and one VM) that must fail; checked by check_bad_inputs."""
    return [
        dv("dv-bad-unreachable", {"http": {"url": f"http://dv-nothing.{SERVER_NS}.svc/debian-12.qcow2"}}, size("64Mi")),
        dv("dv-bad-404", http("no-such-image.qcow2"), size("64Mi")),
        dv("dv-bad-corrupt", http("corrupt.qcow2"), size("128Mi")),
        dv("dv-bad-truncated", http("truncated.img.xz"), size("64Mi")),
        dv("dv-bad-too-large", http("debian-12.qcow2"),
           pvc={"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}),
        dv("dv-bad-class", http("debian-12.qcow2"), {**size("3Gi"), "storageClassName": "no-such-class"}),
        test_disk_vm("dv-bad-vm", [{"metadata": {"name": "dv-bad-vm-root"},
                                    "spec": {"source": http("missing-root.qcow2"), "storage": size("64Mi")}}],
                     [{"name": "root", "dataVolume": {"name": "dv-bad-vm-root"}}]),
    ]


def check_failed(c, name, reason, words, restarts):
    s = wait_dv(c, name, ("Failed",), IMPORT_LIMIT)
    s = s or dv_status(c, name)
    running = condition(s, "Running")
    ok = (s.get("phase") == "Failed" and s.get("restartCount") == restarts and running.get("status") == "False"
          and running.get("reason") == reason and all(w in running.get("message", "") for w in words))
    check(f"bad {name}: Failed, restartCount {restarts}, Running False {reason} naming {words}", ok, json.dumps(s))
    ev = warning(c, name, reason)
    check(f"bad {name}: a Warning Event {reason} naming {words}",
          ev and all(any(w in e.get("message", "") for e in ev) for w in words),
          json.dumps([(e.get("reason"), e.get("message")) for e in events_for(c, name)])[-1500:])
    pods = c.items("pods", selector=f"vireo.io/datavolume-uid={(c.get('dv', name) or {}).get('metadata', {}).get('uid', '?')}")
    claim = c.get("pvc", name)
    check(f"bad {name}: importer pod gone, claim kept", not pods and claim is not None,
          f"pods: {[p['metadata']['name'] for p in pods]}, claim: {claim is not None}")
    return s


def check_bad_inputs(c, existing):
    s = check_failed(c, "dv-bad-unreachable", "ImportSourceUnreachable", ["dv-nothing"], 3)
    if s.get("phase") == "Failed":
        timings.append(("bad: unreachable: create -> Failed after 3 attempts (apiserver's clock)",
                        dv_seconds(c, "dv-bad-unreachable")))
    for name in ("dv-bad-404", "dv-bad-too-large"):
        if dv_status(c, name).get("phase") == "Failed":
            timings.append((f"bad: {name[7:]}: create -> Failed (apiserver's clock)", dv_seconds(c, name)))
    check_failed(c, "dv-bad-404", "ImportSourceNotFound", ["404"], 1)
    check_failed(c, "dv-bad-corrupt", "ImportInvalidImage", [], 1)
    check_failed(c, "dv-bad-truncated", "ImportInvalidImage", ["xz"], 1)
    check_failed(c, "dv-bad-too-large", "ImportImageTooLarge", ["2147483648"], 1)

    # A class that does not exist: Pending, no claim, said so.
    s = c.wait("class", lambda: (lambda s: s if condition(s, "Bound").get("reason") == "StorageClassNotFound"
                                 else None)(dv_status(c, "dv-bad-class")), 60) or dv_status(c, "dv-bad-class")
    check("bad dv-bad-class: Pending, Bound False StorageClassNotFound naming no-such-class",
          s.get("phase") == "Pending" and "no-such-class" in condition(s, "Bound").get("message", ""), json.dumps(s))
    check("bad dv-bad-class: a Warning Event StorageClassNotFound, no claim made",
          warning(c, "dv-bad-class", "StorageClassNotFound") and c.get("pvc", "dv-bad-class") is None,
          json.dumps([e.get("message") for e in events_for(c, "dv-bad-class")]))

    # A VM whose DataVolume fails: its VMI says why.
    s = wait_dv(c, "dv-bad-vm-root", ("Failed",), IMPORT_LIMIT) or {}
    vmi = c.wait("vmi condition", lambda: (lambda v: v if v and condition(v.get("status", {}), "DataVolumesReady")
                                           .get("reason") == "DataVolumeFailed" else None)(c.get("vmi", "dv-bad-vm")), 60)
    cond = condition((vmi or c.get("vmi", "dv-bad-vm") or {}).get("status", {}), "DataVolumesReady")
    check("bad VM: DataVolume Failed; VMI DataVolumesReady False DataVolumeFailed naming 404",
          s.get("phase") == "Failed" and cond.get("status") == "False" and "404" in cond.get("message", ""),
          json.dumps(cond) + json.dumps(s))
    check("bad VM: a Warning Event DataVolumeFailed on the VMI, no launcher pod",
          warning(c, "dv-bad-vm", "DataVolumeFailed", "VirtualMachineInstance")
          and not c.items("pods", selector="vm.kubevirt.io/name=dv-bad-vm"),
          json.dumps([(e.get("reason"), e.get("message")) for e in events_for(c, "dv-bad-vm")]))
    vm = c.get("vm", "dv-bad-vm") or {}
    check("bad VM: printableStatus DataVolumeError", vm.get("status", {}).get("printableStatus") == "DataVolumeError",
          json.dumps(vm.get("status", {})))

    # A claim that already holds data.
    name, path, digest = existing
    s = dv_status(c, name)
    bound = condition(s, "Bound")
    check("bad dv-existing: Pending, Bound False ClaimNotOwned",
          s.get("phase") == "Pending" and bound.get("reason") == "ClaimNotOwned", json.dumps(s))
    check("bad dv-existing: a Warning Event ClaimNotOwned", warning(c, name, "ClaimNotOwned"),
          json.dumps([e.get("message") for e in events_for(c, name)]))
    uid = (c.get("dv", name) or {}).get("metadata", {}).get("uid", "?")
    files = sorted(os.listdir(os.path.dirname(path))) if path and os.path.isdir(os.path.dirname(path)) else []
    check("bad dv-existing: no importer pod; the claim's data byte-identical and nothing added",
          not c.items("pods", selector=f"vireo.io/datavolume-uid={uid}") and path and os.path.exists(path)
          and sha256(path) == digest and files == ["data.bin"], f"{path}: files {files}")


def make_existing_claim(c, image):
    """A claim (default class) with 4 MiB of random data written by a pod.
    Returns (name, the file's path on the node, its sha256)."""
    name = "dv-existing"
    claim = {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": name, "namespace": NS},
             "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "64Mi"}}}}
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "dv-existing-writer", "namespace": NS},
           "spec": e2e_test.restricted({
               "restartPolicy": "Never", "terminationGracePeriodSeconds": 0,
               "automountServiceAccountToken": False,
               "containers": [{"name": "sh", "image": image, "imagePullPolicy": "IfNotPresent",
                               "command": ["/bin/sh", "-c",
                                           "head -c 4194304 /dev/urandom > /data/data.bin && sync"],
                               "volumeMounts": [{"name": "data", "mountPath": "/data"}]}],
               "volumes": [{"name": "data", "persistentVolumeClaim": {"claimName": name}}]})}
    p = apply(c, claim, pod)
    done = c.wait("writer", lambda: (c.get("pod", "dv-existing-writer") or {}).get("status", {}).get("phase")
                  in ("Succeeded", "Failed") or None, 120)
    d = claim_dir(c, name)
    path = os.path.join(d, "data.bin") if d else ""
    ok = p.returncode == 0 and done and path and os.path.exists(path)
    check("existing claim: a pod wrote 4 MiB of data on a claim", ok, p.stderr + f" path {path!r}")
    c.kubectl("delete", "pod", "dv-existing-writer", "-n", NS, "--wait=true")
    return (name, path, sha256(path) if ok else "")


FORMS = [("dv-form-raw", "debian-12.raw"), ("dv-form-gz", "debian-12.raw.gz"), ("dv-form-xz", "debian-12.qcow2.xz")]


def start_forms(c):
    p = apply(c, *[dv(n, http(f), size("2Gi")) for n, f in FORMS])
    check("forms: raw, raw.gz, qcow2.xz DataVolumes created", p.returncode == 0, p.stderr)


def check_forms(c, raw):
    """raw, raw.gz and qcow2.xz imported; each disk.img begins with the raw image."""
    raw_bytes = os.path.getsize(raw)
    for name, f in FORMS:
        s = wait_dv(c, name, ("Succeeded", "Failed"), IMPORT_LIMIT) or dv_status(c, name)
        msg = condition(s, "Running").get("message", "")
        if not check(f"forms: {f} imported (Succeeded)", s.get("phase") == "Succeeded", json.dumps(s)):
            continue
        timings.append((f"forms: {f}: create -> Succeeded, three at once (apiserver's clock)", dv_seconds(c, name)))
        print(f"        {name}: {msg}", flush=True)
        d = claim_dir(c, name)
        img = os.path.join(d, "disk.img") if d else ""
        check(f"forms: {f}: disk.img holds the raw image's {raw_bytes} bytes, sized claim less 5.5 %",
              img and os.path.exists(img) and same_prefix(img, raw, raw_bytes)
              and os.path.getsize(img) == disk_image_bytes(claim_bytes(c, name)),
              f"{img}: {os.path.getsize(img) if img and os.path.exists(img) else 'missing'} bytes; "
              f"claim {claim_bytes(c, name)}")
        # Not needed any more: 2 GiB each on the node.
        c.kubectl("delete", "dv", name, "-n", NS, "--wait=false")


def check_disks_vm(c):
    """registry + blank DataVolumes and a plain claim, on a test-disk VM."""
    name = "dv-disks-vm"
    plain = {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "dv-plain", "namespace": NS},
             "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "96Mi"}}}}
    vm = test_disk_vm(name, [
        {"metadata": {"name": "dv-registry"},
         "spec": {"source": {"registry": {"url": f"docker://{TEST_DISK_IMAGE}"}}, "storage": size("64Mi")}},
        {"metadata": {"name": "dv-blank"}, "spec": {"source": {"blank": {}}, "storage": size("128Mi")}}],
        [{"name": "root", "dataVolume": {"name": "dv-registry"}},
         {"name": "blank", "dataVolume": {"name": "dv-blank"}},
         {"name": "plain", "persistentVolumeClaim": {"claimName": "dv-plain"}}])
    t0 = time.monotonic()
    p = apply(c, plain, vm)
    check("disks: a test-disk VM with registry + blank DataVolumes and a plain claim", p.returncode == 0, p.stderr)
    return name, t0


def finish_disks_vm(c, name, t0):
    s = wait_dv(c, "dv-registry", ("Succeeded", "Failed"), IMPORT_LIMIT) or {}
    if check("registry: docker://vireo.local/test-disk:v1 imported from the node's image store",
             s.get("phase") == "Succeeded", json.dumps(s)):
        timings.append(("registry: DataVolume create -> Succeeded (apiserver's clock)", dv_seconds(c, "dv-registry")))
        print("        dv-registry: " + condition(s, "Running").get("message", ""), flush=True)
    s = wait_dv(c, "dv-blank", ("Succeeded", "Failed"), IMPORT_LIMIT) or {}
    check("blank: DataVolume Succeeded", s.get("phase") == "Succeeded", json.dumps(s))
    con = c.console(name, "dv-disks")
    running = c.wait("running", lambda: c.vmi_running(name), BOOT_LIMIT)
    ready = con.expect(r"VIREO-TEST-DISK READY", BOOT_LIMIT)
    if check("registry: the VM boots the imported disk (VIREO-TEST-DISK READY)", running and ready,
             con.output()[-1500:] + con.stderr()):
        timings.append(("registry: VM create -> VIREO-TEST-DISK READY", time.monotonic() - t0))
    want = {}
    for claim in ("dv-blank", "dv-plain"):
        cb = claim_bytes(c, claim)
        want[claim] = disk_image_bytes(cb) if cb else None
        d = claim_dir(c, claim)
        img = os.path.join(d, "disk.img") if d else ""
        got = os.path.getsize(img) if img and os.path.exists(img) else None
        check(f"{claim}: disk.img on the node is the claim ({cb}) less 5.5 %: {want[claim]}",
              got is not None and got == want[claim], f"{img}: {got}")
    if ready:
        con.send("echo SIZES $(cat /sys/block/vdb/size) $(cat /sys/block/vdc/size) END\n")
        m = con.expect(r"SIZES \d+ \d+ END", 60)
        sizes = sorted(int(x) * 512 for x in m.split()[1:3]) if m else []
        check("blank and plain: the guest's vdb and vdc have those sizes",
              sizes == sorted(v for v in want.values() if v), f"guest: {sizes}, want {want}; " + con.output()[-600:])
    con.close()
    c.kubectl("delete", "vm", name, "-n", NS, "--wait=false")


def debian_checks(c, stamp, t0, dwatch):
    """VM dv-debian from http qcow2; its clone dv-clone-vm. Returns nothing."""
    vm1, vm2 = "dv-debian", "dv-clone-vm"
    s = wait_dv(c, "dv-debian-root", ("Succeeded", "Failed"), IMPORT_LIMIT) or {}
    t_import = time.monotonic() - t0
    start_forms(c)  # the 2 GiB forms import beside the boot
    dwatch.stop()
    rows = dwatch.columns()
    phases = [r[1] for r in rows]
    seen = []
    for ph in phases:
        if not seen or seen[-1] != ph:
            seen.append(ph)
    print("        kubectl get dv dv-debian-root -w:\n          " +
          "\n          ".join(f"{t:6.1f} s  {line}" for t, line in dwatch.rows), flush=True)
    order = [p for p in seen if p in ("ImportScheduled", "ImportInProgress", "Succeeded")]
    check("debian: kubectl get dv shows ImportScheduled, ImportInProgress, Succeeded in order",
          s.get("phase") == "Succeeded" and order == ["ImportScheduled", "ImportInProgress", "Succeeded"],
          f"phases seen: {seen}; status {json.dumps(s)}")
    progress = [r[2] for r in rows]
    # The controller reads the importer's progress every 5 s: an import that
    # runs for less shows N/A until its 100.0%.
    in_progress = [r[0] for r in rows if r[1] == "ImportInProgress"]
    long_import = in_progress and max(in_progress) - min(in_progress) > 6
    check("debian: PROGRESS column ends at 100.0%" + (" and showed a percentage while importing" if long_import else ""),
          progress and progress[-1] == "100.0%"
          and (not long_import or any(r[1] == "ImportInProgress" and r[2].endswith("%") for r in rows)),
          f"progress: {progress}")
    if s.get("phase") != "Succeeded":
        return
    done = [r[0] for r in rows if r[1] == "Succeeded"]
    timings.append(("debian: VM create -> DataVolume Succeeded (qcow2 over http, kubectl get dv -w)",
                    done[0] if done else t_import))

    print("        dv-debian-root: " + condition(s, "Running").get("message", ""), flush=True)
    pvc = c.get("pvc", "dv-debian-root") or {}
    check("debian: the claim got the default class local-path",
          pvc.get("spec", {}).get("storageClassName") == "local-path", json.dumps(pvc.get("spec", {})))

    con = c.console(vm1, "dv-debian")
    first = c.wait("running", lambda: c.vmi_running(vm1), BOOT_LIMIT)
    marker = con.expect(rf"VIREO-DV-MARKER-{stamp} {vm1}-host", DEBIAN_BOOT_LIMIT)
    out = con.output()
    if not check("debian: cloud-init's runcmd marker on virtctl console", first and marker, out[-2500:] + con.stderr()):
        con.close()
        return
    timings.append(("debian: VM create -> cloud-init marker", time.monotonic() - t0))
    check("debian: the new disk had no data file yet", "VIREO-DV-BEFORE none" in out, _lines(out, "VIREO-DV-BEFORE"))
    e2e_test.check_launcher_security(c, vm1, "debian")

    # The clone, asked for while the source's VM runs.
    t_clone = time.monotonic()
    p = apply(c, debian_vm(vm2, "dv-clone", {"source": {"pvc": {"name": "dv-debian-root"}}, "storage": {}}, stamp))
    check("clone: VM with a source.pvc dataVolumeTemplate created", p.returncode == 0, p.stderr)
    in_use = c.wait("in use", lambda: (lambda s: s if condition(s, "Running").get("reason") == "CloneSourceInUse"
                                       else None)(dv_status(c, "dv-clone")), 60)
    check("clone: while the source's VM runs: Pending, reason CloneSourceInUse naming the VMI",
          in_use and in_use.get("phase") == "Pending" and vm1 in condition(in_use, "Running").get("message", "")
          and warning(c, "dv-clone", "CloneSourceInUse"), json.dumps(in_use or dv_status(c, "dv-clone")))

    t_stop = time.monotonic()
    p = c.virtctl("stop", vm1)
    check("debian: virtctl stop", p.returncode == 0, p.stdout + p.stderr)
    gone = c.wait("stopped", lambda: c.get("vmi", vm1) is None, 180)
    check("debian: the guest shut down, VMI gone", gone, con.output()[-1200:])
    con.close()
    timings.append(("debian: virtctl stop -> VMI gone", time.monotonic() - t_stop))

    s = wait_dv(c, "dv-clone", ("Succeeded", "Failed"), IMPORT_LIMIT) or dv_status(c, "dv-clone")
    if check("clone: CloneScheduled/InProgress -> Succeeded once the source rests", s.get("phase") == "Succeeded",
             json.dumps(s)):
        timings.append(("clone: source VMI gone -> clone Succeeded", time.monotonic() - t_stop))
        print("        dv-clone: " + condition(s, "Running").get("message", ""), flush=True)
    src, dst = claim_bytes(c, "dv-debian-root"), claim_bytes(c, "dv-clone")
    check("clone: the clone's claim has the source's size (spec.storage gave none)", src and src == dst,
          f"source {src}, clone {dst}")

    p = c.virtctl("start", vm1)
    check("debian: virtctl start", p.returncode == 0, p.stdout + p.stderr)
    t_start = time.monotonic()
    con1 = c.console(vm1, "dv-debian-again")
    con2 = c.console(vm2, "dv-clone")
    again = c.wait("running", lambda: c.vmi_running(vm1, first["metadata"]["uid"]), BOOT_LIMIT)
    m1 = con1.expect(rf"VIREO-DV-MARKER-{stamp} {vm1}-host", DEBIAN_BOOT_LIMIT)
    kept = f"VIREO-DV-BEFORE VIREO-DV-DATA-{stamp}-{vm1}-host"
    if check("debian: after stop/start the file written on the first boot is read back",
             again and m1 and kept in con1.output(), _lines(con1.output(), "VIREO-DV") + con1.stderr()):
        timings.append(("debian: virtctl start -> cloud-init marker (second boot)", time.monotonic() - t_start))
    m2 = con2.expect(rf"VIREO-DV-MARKER-{stamp} {vm2}-host", DEBIAN_BOOT_LIMIT)
    if check("clone: the clone VM boots and reads the file the first VM wrote",
             m2 and kept in con2.output(), _lines(con2.output(), "VIREO-DV") + con2.stderr()):
        timings.append(("clone: clone VM create -> cloud-init marker", time.monotonic() - t_clone))
    con1.close()
    con2.close()
    # Their shutdown overlaps the checks that follow.
    c.kubectl("delete", "vm", vm1, vm2, "-n", NS, "--wait=false")


def _lines(text, prefix):
    return "\n".join(l for l in text.splitlines() if prefix in l)[-600:] or text[-1200:]


def main():
    args, c = cluster_from_command_line()
    debian = os.environ.get("VIREO_DEBIAN_DISK", "")
    test_disk = os.environ.get("VIREO_TEST_DISK_IMG", "")
    image = busybox_image(args.cluster_dir)
    if not check("setup: VIREO_DEBIAN_DISK, VIREO_TEST_DISK_IMG and the cluster's busybox image",
                 debian and test_disk and image, f"{debian!r} {test_disk!r} {image!r}"):
        return summary("datavolume")
    seconds = prepare_files(debian, test_disk)
    timings.append(("setup: served files made (0: cached)", seconds))

    c.helm("uninstall", "vireo", "-n", RELEASE_NS, "--wait")
    c.kubectl("delete", "namespace", NS, "--ignore-not-found", "--wait=true", timeout=300)
    c.kubectl("delete", "namespace", SERVER_NS, "--ignore-not-found", "--wait=true", timeout=300)
    # Helm never upgrades CRDs (docs/chart.md): this tree's, as a user upgrading does.
    p = c.kubectl("apply", "-f", os.path.join(CHART, "crds"))
    check("dv: kubectl apply -f manifests/chart/crds/", p.returncode == 0, p.stderr)
    p = c.helm("install", "vireo", CHART, "-n", RELEASE_NS, "--create-namespace", "--wait",
               "--timeout", "5m", "--set", "emulation=on")
    check("dv: helm install (emulation on)", p.returncode == 0, p.stdout + p.stderr)
    p = c.kubectl("get", "crd", "datavolumes.cdi.kubevirt.io")
    check("dv: the chart installed the DataVolume CRD", p.returncode == 0, p.stderr)
    sa = f"system:serviceaccount:{RELEASE_NS}:vireo-controller"
    for verb, what in [("create", "datavolumes.cdi.kubevirt.io"), ("patch", "datavolumes.cdi.kubevirt.io/status"),
                       ("create", "persistentvolumeclaims"), ("list", "storageclasses.storage.k8s.io"),
                       ("get", "pods/log")]:
        sub = what.split("/")
        argv = ["auth", "can-i", verb, sub[0], "--as", sa, "-n", NS] + (["--subresource", sub[1]] if len(sub) > 1 else [])
        p = c.kubectl(*argv)
        check(f"dv: the controller may {verb} {what}", p.stdout.strip() == "yes", p.stdout + p.stderr)
    e2e_test.create_namespace(c)
    c.kubectl("create", "namespace", SERVER_NS)

    # The timings below should not include the wait for a Lease an earlier
    # release left (e2e_test.py says why).
    def leading():
        holder = (c.get("lease", "vireo-controller", ns=RELEASE_NS) or {}).get("spec", {}).get("holderIdentity", "")
        return holder in [p["metadata"]["name"] for p in c.items("pods", ns=RELEASE_NS)] or None
    check("dv: the controller holds its Lease", c.wait("leader", leading, 60))

    err = start_server(c, image)
    if not check("server: busybox httpd Deployment + Service serving the images", err is None, err or ""):
        return summary("datavolume")

    stamp = str(int(time.time()))
    # The Debian VM first (the longest path), then everything that runs beside it.
    t0 = time.monotonic()
    dwatch = DvWatch(c, "dv-debian-root")
    p = apply(c, debian_vm("dv-debian", "dv-debian-root", {"source": http("debian-12.qcow2"), "storage": size("2Gi")},
                           stamp))
    check("debian: VM with an http qcow2 dataVolumeTemplate (spec.storage, no class) created", p.returncode == 0,
          p.stderr)
    disks_vm, t_disks = check_disks_vm(c)
    existing = make_existing_claim(c, image)
    p = apply(c, *bad_input_objects(c), dv(existing[0], http("debian-12.qcow2"), size("64Mi")))
    check("bad: the DataVolumes and the VM that must fail created", p.returncode == 0, p.stderr)

    finish_disks_vm(c, disks_vm, t_disks)
    debian_checks(c, stamp, t0, dwatch)
    check_bad_inputs(c, existing)
    check_forms(c, os.path.join(SERVE_DIR, "debian-12.raw"))

    with open(os.path.join(args.logs, "controller-datavolume.log"), "w") as f:
        f.write(c.kubectl("logs", "-n", RELEASE_NS, "deployment/vireo-controller", "--tail=3000").stdout)
    t1 = time.monotonic()
    c.kubectl("delete", "namespace", NS, "--wait=true", timeout=300)
    c.kubectl("delete", "namespace", SERVER_NS, "--wait=false")
    timings.append(("cleanup: delete the namespace (VMs, DataVolumes, claims)", time.monotonic() - t1))
    lp = os.path.join(args.cluster_dir, "local-path")

    def leftover():
        return [d for d in os.listdir(lp) if f"_{NS}_" in d] if os.path.isdir(lp) else []
    check("cleanup: local-path removed every claim's directory", c.wait("lp", lambda: not leftover() or None, 120),
          str(leftover()))
    p = c.helm("uninstall", "vireo", "-n", RELEASE_NS, "--wait")
    check("dv: helm uninstall", p.returncode == 0, p.stderr)
    return summary("datavolume")


if __name__ == "__main__":
    sys.exit(main())
