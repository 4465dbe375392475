#!/usr/bin/python3
"""T1: every KubeVirt field Vireo does not support is refused by the real
apiserver whatever field validation the client asks for.

For each field listed in crds/src/unsupported.yaml, a valid object is given
that field (a value of KubeVirt's type for it) and sent with
fieldValidation=Strict, Warn and Ignore (a server-side dry run, POST): the
apiserver must refuse it with exactly one cause, at the field's full path,
saying Vireo does not support it. Fields of the VMI spec are tried in a
VirtualMachineInstance and in a VirtualMachine's template; those of the
DataVolume spec in a DataVolume and in a VM's dataVolumeTemplates; those of
the VM alone in a VirtualMachine (those under spec.instancetype and
spec.preference in one that names them); those of the instance type and
preference specs in both kinds of each. Fields inside lists are set on an item that
is not the first where the object has several (disks, volumes), so the path
must carry the right index. Resources other than memory and cpu in
domain.resources are refused too. The valid objects themselves are accepted
in all three modes, so every refusal is for the field.

Without the CRDs' declarations of these fields, Ignore and Warn would prune
them and the object would be accepted without them (the bug this guards).

Needs the harness (tests/integration/apiserver.sh) with the committed CRDs:
VIREO_TEST_CLUSTER_DIR, or KUBECONFIG. Prints the number of fields refused in
all three modes and ends with "unsupported_fields: N passed, M failed".
"""
import copy
import json
import os
import sys

import yaml

from t1_api import Api, kubeconfig_path

ROOT = os.environ.get("VIREO_SOURCE_ROOT") or os.path.dirname(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MODES = ("Strict", "Warn", "Ignore")
# A value of each type of crds/src/unsupported.yaml, as a KubeVirt user would write it.
VALUES = {"object": {}, "objects": [{}], "string": "x", "strings": ["x"], "boolean": True,
          "integer": 1, "quantity": "1Gi"}


def vmi_spec(path=""):
    """A valid VMI spec with several disks and volumes, one of each supported volume source.

    Its firmware is EFI, or BIOS for a `path` under the BIOS bootloader; for
    a `path` under kernelBoot it boots a kernel from an image too.
    """
    bootloader = {"bios": {}} if ".bios." in path else {"efi": {"secureBoot": False}}
    firmware = {"bootloader": bootloader}
    if path.startswith("domain.firmware.kernelBoot."):
        firmware["kernelBoot"] = {"kernelArgs": "console=ttyS0",
                                  "container": {"image": "kernels:1", "kernelPath": "/boot/vmlinuz"}}
    return {
        "domain": {
            "cpu": {"cores": 1},
            "memory": {"guest": "128Mi"},
            "resources": {"requests": {"memory": "128Mi", "cpu": "100m"},
                          "limits": {"memory": "256Mi", "cpu": "1"}},
            "firmware": firmware,
            "devices": {
                "disks": [
                    {"name": "boot", "disk": {"bus": "virtio"}, "bootOrder": 1},
                    {"name": "cd", "cdrom": {"bus": "sata"}},
                    {"name": "data", "disk": {"bus": "scsi"}},
                    {"name": "dv", "disk": {"bus": "virtio"}},
                    {"name": "scratch"},
                ],
                "interfaces": [{"name": "default", "masquerade": {}, "ports": [{"port": 22}]}],
            },
        },
        "networks": [{"name": "default", "pod": {}}],
        "volumes": [
            {"name": "boot", "containerDisk": {"image": "quay.io/containerdisks/fedora:40"}},
            {"name": "cd", "cloudInitNoCloud": {"userData": "#cloud-config\n"}},
            {"name": "data", "persistentVolumeClaim": {"claimName": "data"}},
            {"name": "dv", "dataVolume": {"name": "dv"}},
            {"name": "scratch", "emptyDisk": {"capacity": "1Gi"}},
        ],
    }


def dv_spec(path):
    """A valid DataVolume spec whose source and claim suit `path` (one source, storage or pvc)."""
    spec = {"source": {"http": {"url": "http://images.example/disk.img"}},
            "storage": {"resources": {"requests": {"storage": "1Gi"}}}}
    if path.startswith("source.registry."):
        spec["source"] = {"registry": {"url": "docker://quay.io/containerdisks/fedora:40"}}
    if path.startswith("pvc."):
        del spec["storage"]
        spec["pvc"] = {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}
    return spec


def vmi(spec):
    return {"apiVersion": "kubevirt.io/v1", "kind": "VirtualMachineInstance",
            "metadata": {"name": "unsupported"}, "spec": spec}


def vm(spec, dv=None):
    obj = {"apiVersion": "kubevirt.io/v1", "kind": "VirtualMachine",
           "metadata": {"name": "unsupported"},
           "spec": {"runStrategy": "Halted",
                    "template": {"metadata": {"labels": {"app": "unsupported"}}, "spec": spec}}}
    if dv is not None:
        obj["spec"]["dataVolumeTemplates"] = [
            {"metadata": {"name": "other"}, "spec": dv_spec("")},
            {"metadata": {"name": "dv"}, "spec": dv}]
    return obj


def datavolume(spec):
    return {"apiVersion": "cdi.kubevirt.io/v1beta1", "kind": "DataVolume",
            "metadata": {"name": "unsupported"}, "spec": spec}


# The kinds whose spec each source is, with their plurals.
INSTANCETYPE_KINDS = {
    "instancetype-spec.yaml": [("VirtualMachineInstancetype", "virtualmachineinstancetypes"),
                               ("VirtualMachineClusterInstancetype", "virtualmachineclusterinstancetypes")],
    "preference-spec.yaml": [("VirtualMachinePreference", "virtualmachinepreferences"),
                             ("VirtualMachineClusterPreference", "virtualmachineclusterpreferences")],
}


def instancetype_object(kind, src):
    """A valid instance type or preference of `kind` (src says which spec)."""
    spec = {"cpu": {"guest": 2}, "memory": {"guest": "1Gi"}} if src == "instancetype-spec.yaml" else \
        {"cpu": {"preferredCPUTopology": "cores"}, "devices": {"preferredDiskBus": "virtio"}}
    return {"apiVersion": "instancetype.kubevirt.io/v1beta1", "kind": kind,
            "metadata": {"name": "unsupported"}, "spec": spec}


def named_instancetype(obj, which):
    """`obj` (a VM) naming an instance type or preference; with an instance
    type its template leaves vCPUs and memory to it."""
    obj["spec"][which] = {"name": "u1.small"}
    if which == "instancetype":
        domain = obj["spec"]["template"]["spec"]["domain"]
        for key in ("cpu", "memory", "resources"):
            domain.pop(key, None)
    return obj


def set_field(obj, prefix, path, value):
    """Sets `path` ("a.b[].c") under obj at `prefix`; returns the full path with indexes.

    In a list, the item used is the last one holding the next field (so that a
    cdrom's field goes on the cdrom disk), else the last item.
    """
    node, where = obj, []
    for seg in prefix.split("."):
        if seg.endswith("]"):
            name, idx = seg[:-1].split("[")
            node = node[name][int(idx)]
        else:
            node = node[seg]
        where.append(seg)
    segs = path.split(".")
    for i, seg in enumerate(segs[:-1]):
        if seg.endswith("[]"):
            items = node[seg[:-2]]
            nxt = segs[i + 1].removesuffix("[]")
            idx = max((j for j, it in enumerate(items) if nxt in it), default=len(items) - 1)
            node = items[idx]
            where.append(f"{seg[:-2]}[{idx}]")
        else:
            node = node.setdefault(seg, {})
            where.append(seg)
    node[segs[-1]] = copy.deepcopy(value)
    where.append(segs[-1])
    return ".".join(where)


class Run:
    def __init__(self, api):
        self.api, self.passed, self.failed = api, 0, 0

    def fail(self, what, detail=""):
        self.failed += 1
        print(f"FAIL: {what}")
        if detail:
            print("    " + detail.replace("\n", "\n    "))

    def accepted(self, what, plural, obj):
        for mode in MODES:
            status, body, _ = self.api.create(plural, obj, mode)
            if status in (200, 201):
                self.passed += 1
            else:
                self.fail(f"{what} is accepted with fieldValidation={mode}", json.dumps(body)[:2000])

    def refused(self, what, plural, obj, field, text):
        """Refused in every mode with one cause at `field` whose message holds `text`."""
        ok = True
        for mode in MODES:
            status, body, _ = self.api.create(plural, obj, mode)
            causes = (body.get("details") or {}).get("causes") or []
            if status != 422:
                ok = False
                self.fail(f"{what} is refused with fieldValidation={mode} (HTTP {status})",
                          json.dumps(body)[:2000])
            elif len(causes) != 1 or causes[0].get("field") != field or text not in causes[0].get("message", ""):
                ok = False
                self.fail(f"{what} is refused with fieldValidation={mode}, one cause at {field} "
                          f"saying '{text}'", json.dumps(causes)[:2000])
            else:
                self.passed += 1
        return ok


def main():
    kubeconfig = kubeconfig_path()
    if not kubeconfig:
        print("unsupported_fields: set VIREO_TEST_CLUSTER_DIR (the harness) or KUBECONFIG", file=sys.stderr)
        print("unsupported_fields: 0 passed, 1 failed")
        return 1
    with open(os.path.join(ROOT, "crds", "src", "unsupported.yaml"), encoding="utf-8") as f:
        unsupported = yaml.safe_load(f)
    run = Run(Api(kubeconfig))

    # The valid objects, in all three modes.
    run.accepted("a valid VMI", "virtualmachineinstances", vmi(vmi_spec()))
    run.accepted("a valid VM", "virtualmachines", vm(vmi_spec(), dv_spec("")))
    for which in ("instancetype", "preference"):
        run.accepted(f"a valid VM naming a {which}", "virtualmachines",
                     named_instancetype(vm(vmi_spec(), dv_spec("")), which))
    for src, kinds in INSTANCETYPE_KINDS.items():
        for kind, plural in kinds:
            run.accepted(f"a valid {kind}", plural, instancetype_object(kind, src))
    for base in ("", "source.registry.", "pvc."):
        run.accepted(f"a valid DataVolume (for {base or 'http'})", "datavolumes", datavolume(dv_spec(base)))
        run.accepted(f"a valid VM with a DataVolume template (for {base or 'http'})", "virtualmachines",
                     vm(vmi_spec(), dv_spec(base)))

    # The list must hold what it says: at least the fields the issue names.
    listed = {(src, p) for src, fields in unsupported.items() for p in fields}
    for src, p in [("vmi-spec.yaml", "domain.devices.tpm"), ("vmi-spec.yaml", "domain.features.hyperv.vpindex"),
                   ("vmi-spec.yaml", "domain.cpu.dedicatedCpuPlacement"), ("vmi-spec.yaml", "domain.devices.gpus"),
                   ("vmi-spec.yaml", "livenessProbe"), ("vmi-spec.yaml", "readinessProbe"),
                   ("vmi-spec.yaml", "accessCredentials"), ("vmi-spec.yaml", "volumes[].hostDisk"),
                   ("vmi-spec.yaml", "domain.devices.disks[].lun"),
                   ("virtualmachines.kubevirt.io.yaml", "spec.instancetype.inferFromVolume"),
                   ("instancetype-spec.yaml", "gpus"), ("preference-spec.yaml", "devices.preferredTPM")]:
        if (src, p) in listed:
            run.passed += 1
        else:
            run.fail(f"crds/src/unsupported.yaml lists {p} under {src}")

    refused_everywhere = 0
    for src, fields in unsupported.items():
        for path, value in fields.items():
            kind = value.split(" ", 1)[0]
            val = VALUES[kind]
            text = f"Vireo does not support {path}:"
            ok = True
            if src == "vmi-spec.yaml":
                obj = vmi(vmi_spec(path))
                field = set_field(obj, "spec", path, val)
                ok &= run.refused(f"VMI {field}", "virtualmachineinstances", obj, field, text)
                obj = vm(vmi_spec(path))
                field = set_field(obj, "spec.template.spec", path, val)
                ok &= run.refused(f"VM {field}", "virtualmachines", obj, field, text)
            elif src == "virtualmachines.kubevirt.io.yaml":
                obj = vm(vmi_spec(), dv_spec(""))
                first, rest = path.split(".", 1)
                if rest.startswith(("instancetype.", "preference.")):
                    obj = named_instancetype(obj, rest.split(".", 1)[0])
                field = set_field(obj, first, rest, val)
                ok &= run.refused(f"VM {field}", "virtualmachines", obj, field, text)
            elif src in ("instancetype-spec.yaml", "preference-spec.yaml"):
                for kind, plural in INSTANCETYPE_KINDS[src]:
                    obj = instancetype_object(kind, src)
                    field = set_field(obj, "spec", path, val)
                    ok &= run.refused(f"{kind} {field}", plural, obj, field, text)
            elif src == "dv-spec.yaml":
                obj = datavolume(dv_spec(path))
                field = set_field(obj, "spec", path, val)
                ok &= run.refused(f"DataVolume {field}", "datavolumes", obj, field, text)
                obj = vm(vmi_spec(), dv_spec(path))
                field = set_field(obj, "spec.dataVolumeTemplates[1].spec", path, val)
                ok &= run.refused(f"VM {field}", "virtualmachines", obj, field, text)
            else:
                run.fail(f"crds/src/unsupported.yaml: unknown source {src}")
                ok = False
            refused_everywhere += ok

    # A field KubeVirt or CDI takes instead of one Vireo requires: the object
    # is refused by the unsupported field's name, not only for the missing one
    # (a missing `required` field would stop the apiserver before any rule).
    def replaced(what, plural, obj, field, text):
        for mode in MODES:
            status, body, _ = run.api.create(plural, obj, mode)
            causes = (body.get("details") or {}).get("causes") or []
            if status == 422 and any(c.get("field") == field and text in c.get("message", "") for c in causes):
                run.passed += 1
            else:
                run.fail(f"{what} is refused with fieldValidation={mode} at {field} saying '{text}'",
                         f"HTTP {status}: " + json.dumps(causes or body)[:2000])

    dv = dv_spec("")
    del dv["source"]
    dv["sourceRef"] = {"kind": "DataSource", "name": "fedora"}
    replaced("a DataVolume with sourceRef and no source", "datavolumes", datavolume(dv),
             "spec.sourceRef", "Vireo does not support sourceRef:")
    dv = dv_spec("source.registry.")
    dv["source"]["registry"] = {"imageStream": "fedora"}
    replaced("a DataVolume with registry.imageStream and no url", "datavolumes", datavolume(dv),
             "spec.source.registry.imageStream", "Vireo does not support source.registry.imageStream:")
    dv = dv_spec("pvc.")
    dv["pvc"] = {"dataSourceRef": {"kind": "VolumeSnapshot", "name": "snap"}}
    replaced("a DataVolume with pvc.dataSourceRef and no resources", "datavolumes", datavolume(dv),
             "spec.pvc.dataSourceRef", "Vireo does not support pvc.dataSourceRef:")
    obj = vm(vmi_spec(), dv_spec(""))
    obj["spec"]["dataVolumeTemplates"][1]["metadata"] = {"generateName": "dv-"}
    replaced("a VM's DataVolume template with generateName and no name", "virtualmachines", obj,
             "spec.dataVolumeTemplates[1].metadata.generateName",
             "Vireo does not support spec.dataVolumeTemplates[].metadata.generateName:")

    # Resources other than memory and cpu (a ResourceList in KubeVirt) are refused too.
    for which in ("requests", "limits"):
        for resource in ("nvidia.com/gpu", "hugepages-2Mi", "ephemeral-storage"):
            obj = vmi(vmi_spec())
            obj["spec"]["domain"]["resources"][which][resource] = "1"
            run.refused(f"VMI domain.resources.{which}[{resource}]", "virtualmachineinstances", obj,
                        f"spec.domain.resources.{which}",
                        f"Vireo does not support the resource {resource} in domain.resources.{which}")

    total = sum(len(f) for f in unsupported.values())
    print(f"unsupported_fields: {refused_everywhere} of the {total} KubeVirt/CDI fields in "
          f"crds/src/unsupported.yaml refused with fieldValidation=Strict, Warn and Ignore, "
          f"in every object that has them")
    print(f"unsupported_fields: {run.passed} passed, {run.failed} failed")
    return 0 if run.failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
