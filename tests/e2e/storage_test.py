#!/usr/bin/env python3
"""T3: the local cluster's storage as a user meets it (docs/cluster.md,
"Storage").

- The default StorageClass is local-path (the provisioner cluster-up
  deploys) and only it: a claim that names no class gets it, waits for its
  first pod (WaitForFirstConsumer), is then bound to a volume made for it, a
  file one pod wrote is read by a second pod, and deleting the claim removes
  the volume's directory on the node.
- A Block claim has to name vireo-local (local-path cannot make one; the
  claim that asks it anyway stays Pending, which says so): a VM boots the
  test disk from a Block PersistentVolume that hack/cluster-pv.sh --block
  made (a loop device over a sparse file in the cluster's state), reaches
  its console marker, and what the guest writes lands in that file.

Installs the chart (emulation on) and uninstalls it. Uses e2e_test.py's
helpers; tests/e2e/run.sh runs it.

  storage_test.py --cluster-dir DIR --virtctl PATH [--logs DIR]
"""
import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.dont_write_bytecode = True  # no __pycache__ in the source tree
import e2e_test  # noqa: E402
from e2e_test import NS, RELEASE_NS, check, cluster_from_command_line, summary, timings  # noqa: E402

CHART = os.path.join(e2e_test.ROOT, "manifests", "chart")
DEFAULT_CLASS = "local-path"
STATIC_CLASS = "vireo-local"
BLOCK_PV = "block-disk-pv"


def apply(c, *objects):
    return subprocess.run([os.path.join(c.bin, "kubectl"), "--kubeconfig", c.kubeconfig, "apply", "-f", "-"],
                          input="\n---\n".join(json.dumps(o) for o in objects), capture_output=True, text=True,
                          timeout=60)


def cluster_pv(cluster_dir, *args):
    return subprocess.run(["bash", os.path.join(e2e_test.ROOT, "hack", "cluster-pv.sh"), *args],
                          capture_output=True, text=True, timeout=300,
                          env={**os.environ, "VIREO_CLUSTER_DIR": cluster_dir})


def busybox_image(cluster_dir):
    with open(os.path.join(cluster_dir, "env")) as f:
        env = dict(line.strip().split("=", 1) for line in f if "=" in line)
    return env.get("VIREO_BUSYBOX_IMAGE", "")


def claim(name, storage="16Mi", **spec):
    return {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": name, "namespace": NS},
            "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": storage}}, **spec}}


def shell_pod(name, image, script, claim_name):
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": NS},
            "spec": e2e_test.restricted({
                "restartPolicy": "Never", "terminationGracePeriodSeconds": 0,
                "automountServiceAccountToken": False,
                "containers": [{"name": "sh", "image": image, "imagePullPolicy": "IfNotPresent",
                                "command": ["/bin/sh", "-c", script],
                                "volumeMounts": [{"name": "data", "mountPath": "/data"}]}],
                "volumes": [{"name": "data", "persistentVolumeClaim": {"claimName": claim_name}}]})}


def pod_done(c, name):
    phase = (c.get("pod", name) or {}).get("status", {}).get("phase")
    return phase if phase in ("Succeeded", "Failed") else None


def default_class_checks(c, cluster_dir, image):
    classes = {sc["metadata"]["name"]: sc for sc in c.items("storageclasses", ns="default")}
    defaults = sorted(n for n, sc in classes.items()
                      if sc["metadata"].get("annotations", {}).get("storageclass.kubernetes.io/is-default-class")
                      == "true")
    check(f"storage: {DEFAULT_CLASS} is the one default StorageClass", defaults == [DEFAULT_CLASS],
          f"defaults: {defaults}")
    lp = classes.get(DEFAULT_CLASS, {})
    check(f"storage: {DEFAULT_CLASS} binds on first consumer and deletes with the claim",
          lp.get("volumeBindingMode") == "WaitForFirstConsumer" and lp.get("reclaimPolicy") == "Delete",
          json.dumps(lp))

    t0 = time.monotonic()
    p = apply(c, claim("data"))
    check("default class: claim without storageClassName created", p.returncode == 0, p.stderr)
    pvc = c.get("pvc", "data") or {}
    check(f"default class: the claim got storageClassName {DEFAULT_CLASS}",
          pvc.get("spec", {}).get("storageClassName") == DEFAULT_CLASS, json.dumps(pvc.get("spec", {})))
    time.sleep(2)
    check("default class: the claim waits for a pod (Pending, no volume)",
          (c.get("pvc", "data") or {}).get("status", {}).get("phase") == "Pending")

    stamp = f"VIREO-LOCAL-PATH-{int(time.time())}"
    p = apply(c, shell_pod("writer", image, f"echo {stamp} > /data/stamp.txt && sync", "data"))
    phase = c.wait("writer done", lambda: pod_done(c, "writer"), 120)
    check("default class: a pod writes a file on the claim", p.returncode == 0 and phase == "Succeeded",
          p.stderr + c.kubectl("describe", "pod", "writer", "-n", NS).stdout[-1500:])
    pvc = c.get("pvc", "data") or {}
    check("default class: the claim is Bound", pvc.get("status", {}).get("phase") == "Bound",
          json.dumps(pvc.get("status", {})) + c.kubectl("describe", "pvc", "data", "-n", NS).stdout[-800:])
    timings.append(("default class: claim + writer pod -> Succeeded (volume provisioned)", time.monotonic() - t0))
    pv_name = pvc.get("spec", {}).get("volumeName", "")
    pv = c.get("pv", pv_name, ns="default") if pv_name else None
    path = ((pv or {}).get("spec", {}).get("hostPath") or {}).get("path", "")
    under = os.path.join(os.path.realpath(cluster_dir), "local-path") + "/"
    check(f"default class: the volume is a directory under {under}",
          path.startswith(under) and os.path.isdir(path), json.dumps((pv or {}).get("spec", {})))

    c.kubectl("delete", "pod", "writer", "-n", NS, "--wait=true")
    p = apply(c, shell_pod("reader", image, "cat /data/stamp.txt", "data"))
    phase = c.wait("reader done", lambda: pod_done(c, "reader"), 120)
    out = c.kubectl("logs", "reader", "-n", NS).stdout
    check("default class: a second pod reads the file the first one wrote",
          p.returncode == 0 and phase == "Succeeded" and out.strip() == stamp, f"phase {phase}, log: {out!r}")
    c.kubectl("delete", "pod", "reader", "-n", NS, "--wait=true")

    t1 = time.monotonic()
    p = c.kubectl("delete", "pvc", "data", "-n", NS, "--wait=true")
    gone = c.wait("volume gone", lambda: (not c.get("pv", pv_name, ns="default")
                                          and path and not os.path.exists(path)) or None, 120)
    check("default class: deleting the claim removes its volume and directory", p.returncode == 0 and gone,
          f"{path} exists: {os.path.exists(path) if path else '?'}; "
          + c.kubectl("logs", "-n", "local-path-storage", "deployment/local-path-provisioner", "--tail=10").stdout)
    if gone:
        timings.append(("default class: delete claim -> directory removed", time.monotonic() - t1))

    # Block is what the default class cannot do: the claim says so and waits.
    p = apply(c, claim("block-default", volumeMode="Block"))
    user = shell_pod("block-default-user", image, "true", "block-default")
    user["spec"]["containers"][0]["volumeDevices"] = [{"name": "data", "devicePath": "/dev/xvda"}]
    del user["spec"]["containers"][0]["volumeMounts"]
    p2 = apply(c, user)

    def refused():
        events = c.items("events", selector=None)
        return [e for e in events if e.get("involvedObject", {}).get("name") == "block-default"
                and e.get("reason") == "ProvisioningFailed" and "block" in e.get("message", "")] or None
    events = c.wait("refused", refused, 60)
    check(f"default class: a Block claim stays Pending, an Event says {DEFAULT_CLASS} cannot make one",
          p.returncode == 0 and p2.returncode == 0 and events
          and (c.get("pvc", "block-default") or {}).get("status", {}).get("phase") == "Pending",
          p.stderr + p2.stderr + json.dumps([e.get("message") for e in events or []]))
    c.kubectl("delete", "pod", "block-default-user", "-n", NS, "--wait=true")
    c.kubectl("delete", "pvc", "block-default", "-n", NS, "--wait=true")


def block_vm_checks(c, args):
    disk = os.environ.get("VIREO_TEST_DISK_IMG", "")
    p = cluster_pv(args.cluster_dir, "--block", "--claim", f"{NS}/block-disk", BLOCK_PV, "64Mi", disk)
    check("block: hack/cluster-pv.sh --block puts the test disk on a loop device",
          disk and p.returncode == 0, f"VIREO_TEST_DISK_IMG={disk!r}\n" + p.stdout + p.stderr)
    pv = c.get("pv", BLOCK_PV, ns="default") or {}
    check("block: the PersistentVolume is a Block `local` volume of vireo-local",
          pv.get("spec", {}).get("volumeMode") == "Block" and pv.get("spec", {}).get("local")
          and pv.get("spec", {}).get("storageClassName") == STATIC_CLASS, json.dumps(pv.get("spec", {})))
    p = apply(c, claim("block-disk", storage="64Mi", storageClassName=STATIC_CLASS, volumeMode="Block"))
    bound = c.wait("bound", lambda: (c.get("pvc", "block-disk") or {}).get("status", {}).get("phase") == "Bound"
                   or None, 60)
    check("block: the Block claim naming vireo-local binds to it", p.returncode == 0 and bound,
          p.stderr + c.kubectl("describe", "pvc", "block-disk", "-n", NS).stdout[-800:])

    vm = {"apiVersion": "kubevirt.io/v1", "kind": "VirtualMachine",
          "metadata": {"name": "block-vm", "namespace": NS},
          "spec": {"runStrategy": "Always", "template": {"spec": {
              "domain": {"memory": {"guest": "128Mi"}, "devices": {
                  "autoattachSerialConsole": True,
                  "disks": [{"name": "rootdisk", "disk": {"bus": "virtio"}}],
                  "interfaces": [{"name": "default", "masquerade": {}}]}},
              "networks": [{"name": "default", "pod": {}}],
              "volumes": [{"name": "rootdisk", "persistentVolumeClaim": {"claimName": "block-disk"}}]}}}}
    manifest = os.path.join(args.logs, "block-vm.json")
    with open(manifest, "w") as f:
        json.dump(vm, f)
    stamp = f"VIREO-BLOCK-{int(time.time())}"

    def on_the_device(con):
        pods = c.items("pods", selector="vm.kubevirt.io/name=block-vm")
        devices = [d for p in pods for ctr in p["spec"]["containers"] for d in ctr.get("volumeDevices", [])]
        check("block: the launcher pod gets the claim as a device (volumeDevices)",
              any(d.get("name") == "rootdisk" for d in devices), json.dumps(devices))
        e2e_test.check_launcher_security(c, "block-vm", "block")
        con.send(f"echo {stamp} > /mnt/boot/block.txt; sync; cat /mnt/boot/block.txt\n")
        check("block: the guest writes a file on its disk", con.expect(f"\n{stamp}", 60), con.output()[-800:])

    con = e2e_test.boot_and_talk(c, "block-vm", manifest, "block", on_the_device)
    if con:
        con.close()
    c.kubectl("delete", "vm", "block-vm", "-n", NS, "--wait=true", timeout=200)
    gone = c.wait("vm gone", lambda: (not c.get("vmi", "block-vm")
                                      and not c.items("pods", selector="vm.kubevirt.io/name=block-vm")) or None, 120)
    check("block: VM deleted, launcher pod gone", gone)
    image = os.path.join(os.path.realpath(args.cluster_dir), "volumes", BLOCK_PV, "block.img")
    try:
        with open(image, "rb") as f:
            data = f.read()
    except OSError as e:
        data = b""
        print(f"        {image}: {e}")
    check("block: what the guest wrote is in the loop device's file", stamp.encode() in data, image)

    c.kubectl("delete", "pvc", "block-disk", "-n", NS, "--wait=true")
    p = cluster_pv(args.cluster_dir, "--delete", BLOCK_PV)
    losetup = subprocess.run(["losetup", "-n", "-l", "-O", "NAME,BACK-FILE"], capture_output=True, text=True).stdout
    check("block: cluster-pv.sh --delete detaches the loop device and removes the file",
          p.returncode == 0 and os.path.dirname(image) not in losetup and not os.path.exists(image),
          p.stdout + p.stderr + losetup)


def main():
    args, c = cluster_from_command_line()
    image = busybox_image(args.cluster_dir)
    c.helm("uninstall", "vireo", "-n", RELEASE_NS, "--wait")
    c.kubectl("delete", "namespace", NS, "--ignore-not-found", "--wait=true", timeout=300)
    cluster_pv(args.cluster_dir, "--delete", BLOCK_PV)
    e2e_test.create_namespace(c)

    check("storage: the cluster has a busybox image (VIREO_BUSYBOX_IMAGE)", image)
    if image:
        default_class_checks(c, args.cluster_dir, image)

    p = c.helm("install", "vireo", CHART, "-n", RELEASE_NS, "--create-namespace", "--wait",
               "--timeout", "5m", "--set", "emulation=on")
    if check("storage: helm install (emulation on)", p.returncode == 0, p.stdout + p.stderr):
        block_vm_checks(c, args)

    with open(os.path.join(args.logs, "controller-storage.log"), "w") as f:
        f.write(c.kubectl("logs", "-n", RELEASE_NS, "deployment/vireo-controller", "--tail=2000").stdout)
    c.kubectl("delete", "namespace", NS, "--wait=true", timeout=300)
    p = c.helm("uninstall", "vireo", "-n", RELEASE_NS, "--wait")
    check("storage: helm uninstall", p.returncode == 0, p.stderr)
    return summary("storage")


if __name__ == "__main__":
    sys.exit(main())
