#!/usr/bin/env python3
"""bench/import_bench: how fast a DataVolume imports a 2 GiB disk image over
http on the local cluster, raw and qcow2, against a plain `qemu-img convert`
of the same file on the node. Prints figures; asserts nothing.

The image: 2 GiB raw, sparse, with 512 MiB of random data (1 MiB written in
every 4 MiB, so neither gzip nor zero detection makes it smaller), and the
same disk as an uncompressed qcow2 (qemu-img convert), cached under
~/.cache/vireo/dv-bench. An in-cluster busybox httpd (a Deployment over a
hostPath of that folder, and its Service, as tests/e2e/datavolume_test.py
has) serves them; each DataVolume (spec.storage 2Gi, default class
local-path) is timed from `kubectl create` to phase Succeeded, and the
importer's own figure (its termination message) is printed beside it. The
local figure is `qemu-img convert -O raw` of the served file into a file on
the same disk as the cluster's local-path volumes (page cache warm in both
cases: the files were just written or read).

Needs the local cluster (hack/cluster-up.sh) with Vireo's images loaded
(tests/e2e/run.sh or images/build.sh + hack/cluster-load-images.sh), run as
root on the node. Installs the chart if no release `vireo` exists (and
removes it after), works in namespace vireo-bench (deleted at the end).

  bench/import_bench.py [--cluster-dir DIR] [--rounds N]
"""
import argparse
import json
import os
import re
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "bench"))
sys.dont_write_bytecode = True  # no __pycache__ in the source tree
from cluster import CACHE, Kube  # noqa: E402

DIR = os.path.join(CACHE, "dv-bench")
NS = "vireo-bench"
MiB = 1 << 20
GiB = 1 << 30


def make_images():
    """DIR/bench.raw and DIR/bench.qcow2 (made once)."""
    os.makedirs(DIR, exist_ok=True)
    raw, qcow2 = os.path.join(DIR, "bench.raw"), os.path.join(DIR, "bench.qcow2")
    if os.path.exists(raw) and os.path.exists(qcow2):
        return raw, qcow2
    t0 = time.monotonic()
    with open(raw + ".part", "wb") as f:
        f.truncate(2 * GiB)
        for i in range(512):
            f.seek(i * 4 * MiB)
            f.write(os.urandom(MiB))
    os.replace(raw + ".part", raw)
    subprocess.run(["qemu-img", "convert", "-O", "qcow2", raw, qcow2 + ".part"], check=True)
    os.replace(qcow2 + ".part", qcow2)
    print(f"made {raw} and {qcow2} in {time.monotonic() - t0:.1f} s", flush=True)
    return raw, qcow2


def allocated(path):
    return os.stat(path).st_blocks * 512


def server(k):
    image = k.env.get("VIREO_BUSYBOX_IMAGE") or sys.exit("import_bench: the cluster has no busybox image")
    k.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}})
    k.apply({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "bench-http", "namespace": NS},
             "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "bench-http"}},
                      "template": {"metadata": {"labels": {"app": "bench-http"}}, "spec": {
                          "terminationGracePeriodSeconds": 0, "automountServiceAccountToken": False,
                          "containers": [{"name": "httpd", "image": image, "imagePullPolicy": "IfNotPresent",
                                          "command": ["/bin/busybox", "httpd", "-f", "-p", "8080", "-h", "/srv"],
                                          "readinessProbe": {"tcpSocket": {"port": 8080}, "periodSeconds": 1},
                                          "volumeMounts": [{"name": "f", "mountPath": "/srv", "readOnly": True}]}],
                          "volumes": [{"name": "f", "hostPath": {"path": DIR, "type": "Directory"}}]}}}},
            {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "bench-http", "namespace": NS},
             "spec": {"selector": {"app": "bench-http"}, "ports": [{"port": 80, "targetPort": 8080}]}})
    p = k.kubectl("rollout", "status", "-n", NS, "deployment/bench-http", "--timeout=120s")
    if p.returncode != 0:
        sys.exit(f"import_bench: the server did not start: {p.stdout}{p.stderr}")


def import_once(k, name, file):
    dv = {"apiVersion": "cdi.kubevirt.io/v1beta1", "kind": "DataVolume", "metadata": {"name": name, "namespace": NS},
          "spec": {"source": {"http": {"url": f"http://bench-http.{NS}.svc/{file}"}},
                   "storage": {"resources": {"requests": {"storage": "2Gi"}}}}}
    t0 = time.monotonic()
    k.apply(dv)
    status = {}
    while time.monotonic() - t0 < 600:
        p = k.kubectl("get", "dv", name, "-n", NS, "-o", "json")
        status = json.loads(p.stdout).get("status", {}) if p.returncode == 0 else {}
        if status.get("phase") in ("Succeeded", "Failed"):
            break
        time.sleep(0.2)
    wall = time.monotonic() - t0
    message = next((c.get("message", "") for c in status.get("conditions", []) if c.get("type") == "Running"), "")
    k.kubectl("delete", "dv", name, "-n", NS, "--wait=true")
    if status.get("phase") != "Succeeded":
        return None, None, f"{status.get('phase')}: {message}"
    m = re.search(r" in ([0-9.]+) s", message)
    return wall, float(m.group(1)) if m else None, message


def local_convert(src):
    out = os.path.join(DIR, "local-convert.img")
    t0 = time.monotonic()
    subprocess.run(["qemu-img", "convert", "-O", "raw", src, out], check=True)
    os.sync()
    seconds = time.monotonic() - t0
    os.unlink(out)
    return seconds


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cluster-dir", default=os.path.join(CACHE, "cluster"))
    ap.add_argument("--rounds", type=int, default=1)
    args = ap.parse_args()
    k = Kube(args.cluster_dir, "import_bench")
    raw, qcow2 = make_images()
    print(f"image: 2 GiB virtual, {allocated(raw) / MiB:.0f} MiB of random data (raw {os.path.getsize(raw) / MiB:.0f} MiB "
          f"sparse; qcow2 {os.path.getsize(qcow2) / MiB:.0f} MiB)", flush=True)

    installed = k.helm("status", "vireo", "-n", "vireo-system").returncode == 0
    if not installed:
        k.kubectl("apply", "-f", os.path.join(ROOT, "manifests", "chart", "crds"))
        p = k.helm("install", "vireo", os.path.join(ROOT, "manifests", "chart"), "-n", "vireo-system",
                   "--create-namespace", "--wait", "--timeout", "5m", "--set", "emulation=on")
        if p.returncode != 0:
            sys.exit(f"import_bench: helm install: {p.stderr}")
    try:
        server(k)
        rows = []
        for r in range(args.rounds):
            for label, file, path in (("raw", "bench.raw", raw), ("qcow2", "bench.qcow2", qcow2)):
                wall, own, message = import_once(k, f"bench-{label}-{r}", file)
                local = local_convert(path)
                rows.append((label, wall, own, local, message))
                if wall is None:
                    print(f"{label}: import FAILED: {message}", flush=True)
                    continue
                print(f"{label:5}  DataVolume create -> Succeeded {wall:6.2f} s ({2 * 1024 / wall:6.0f} MiB/s of disk, "
                      f"{allocated(raw) / MiB / wall:5.0f} MiB/s of data)   importer's own {own or 0:5.2f} s   "
                      f"local qemu-img convert -O raw {local:5.2f} s", flush=True)
        print(f"({rows[-1][4] if rows else ''})")
    finally:
        k.kubectl("delete", "namespace", NS, "--wait=true")
        if not installed:
            k.helm("uninstall", "vireo", "-n", "vireo-system", "--wait")


if __name__ == "__main__":
    main()
