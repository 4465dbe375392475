#!/usr/bin/python3
"""T1: the bounds the CRDs put on sizes (lib/api/bounds.h says the same
numbers), on a real apiserver: a value at the bound is accepted, one past it
refused at its field with a message that names the limit.

  - cloud-init userData / networkData: 64 KiB (65536 bytes, counted in UTF-8
    bytes, not characters); userDataBase64 / networkDataBase64: 65536
    characters of base64;
  - memory (memory.guest, resources requests and limits): 16Ti;
  - cpu (resources requests and limits): 1024 cores;
  - an emptyDisk's capacity and a DataVolume's claim size: 1Pi;
  - terminationGracePeriodSeconds: 2147483647;
  - label and nodeSelector values: 63 characters.

Sent as server-side dry runs with fieldValidation=Strict and Ignore (bounds
do not depend on it). Needs the harness (VIREO_TEST_CLUSTER_DIR) or
KUBECONFIG. Ends with "crd_bounds: N passed, M failed".
"""
import copy
import json
import sys

from t1_api import Api, kubeconfig_path

MODES = ("Strict", "Ignore")


def vmi(spec_edit=None):
    obj = {"apiVersion": "kubevirt.io/v1", "kind": "VirtualMachineInstance",
           "metadata": {"name": "bounds"},
           "spec": {"domain": {"devices": {"disks": [{"name": "boot"}]},
                               "resources": {"requests": {"memory": "128Mi"}}},
                    "volumes": [{"name": "boot", "containerDisk": {"image": "quay.io/containerdisks/fedora:40"}},
                                {"name": "ci", "cloudInitNoCloud": {"userData": "#cloud-config\n"}},
                                {"name": "scratch", "emptyDisk": {"capacity": "1Gi"}}]}}
    if spec_edit:
        spec_edit(obj["spec"])
    return obj


def vm_with_dv(size):
    return {"apiVersion": "kubevirt.io/v1", "kind": "VirtualMachine", "metadata": {"name": "bounds"},
            "spec": {"runStrategy": "Halted",
                     "dataVolumeTemplates": [{"metadata": {"name": "d"}, "spec": dv_spec(size)}],
                     "template": {"spec": vmi()["spec"]}}}


def dv_spec(size):
    return {"source": {"blank": {}}, "storage": {"resources": {"requests": {"storage": size}}}}


def datavolume(size):
    return {"apiVersion": "cdi.kubevirt.io/v1beta1", "kind": "DataVolume", "metadata": {"name": "bounds"},
            "spec": dv_spec(size)}


def setter(*path_and_value):
    """A spec edit that sets a nested value: setter("domain", "memory", "guest", "16Ti")."""
    *path, key, value = path_and_value

    def edit(spec):
        node = spec
        for p in path:
            node = node[p] if isinstance(p, int) else node.setdefault(p, {})
        node[key] = copy.deepcopy(value)
    return edit


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
                self.fail(f"{what} is accepted (fieldValidation={mode})", json.dumps(body)[:1500])

    def refused(self, what, plural, obj, field, texts):
        """Refused with a cause at `field` whose message holds one of `texts`."""
        for mode in MODES:
            status, body, _ = self.api.create(plural, obj, mode)
            causes = (body.get("details") or {}).get("causes") or []
            if status == 422 and any(c.get("field") == field and any(t in c.get("message", "") for t in texts)
                                     for c in causes):
                self.passed += 1
            else:
                self.fail(f"{what} is refused at {field} saying one of {texts} (fieldValidation={mode})",
                          f"HTTP {status}: " + json.dumps(causes or body)[:1500])


def main():
    kubeconfig = kubeconfig_path()
    if not kubeconfig:
        print("crd_bounds: set VIREO_TEST_CLUSTER_DIR (the harness) or KUBECONFIG", file=sys.stderr)
        print("crd_bounds: 0 passed, 1 failed")
        return 1
    run = Run(Api(kubeconfig))
    vmis = "virtualmachineinstances"
    ci = ("volumes", 1, "cloudInitNoCloud")
    at_ci = "spec.volumes[1].cloudInitNoCloud."

    run.accepted("the base VMI", vmis, vmi())
    # cloud-init: 64 KiB, in bytes for text.
    for key in ("userData", "networkData"):
        run.accepted(f"{key} of 65536 ASCII bytes", vmis, vmi(setter(*ci, key, "a" * 65536)))
        run.accepted(f"{key} of 65536 UTF-8 bytes (32768 x 'é')", vmis, vmi(setter(*ci, key, "é" * 32768)))
        run.refused(f"{key} of 65537 ASCII bytes", vmis, vmi(setter(*ci, key, "a" * 65537)),
                    at_ci + key, ["65536"])
        run.refused(f"{key} of 65538 UTF-8 bytes in 32769 characters", vmis,
                    vmi(setter(*ci, key, "é" * 32769)), at_ci + key,
                    ["is larger than Vireo's limit of 64 KiB (65536 bytes) for inline cloud-init data"])
    for key in ("userDataBase64", "networkDataBase64"):
        def b64(n_chars):
            return "QUFB" * (n_chars // 4)
        edit_ok, edit_big = setter(*ci, key, b64(65536)), setter(*ci, key, b64(65540))
        if key == "userDataBase64":  # one user data source
            run.accepted(f"{key} of 65536 characters", vmis, vmi(lambda s: (s["volumes"][1]["cloudInitNoCloud"].clear(), edit_ok(s))))
            run.refused(f"{key} of 65540 characters", vmis,
                        vmi(lambda s: (s["volumes"][1]["cloudInitNoCloud"].clear(), edit_big(s))), at_ci + key, ["65536"])
        else:
            run.accepted(f"{key} of 65536 characters", vmis, vmi(edit_ok))
            run.refused(f"{key} of 65540 characters", vmis, vmi(edit_big), at_ci + key, ["65536"])

    # Memory: 16Ti (16Ti + 1 byte, and 1Ei, refused).
    sixteen_ti = 16 * 1024 ** 4
    run.accepted("memory.guest 16Ti", vmis, vmi(setter("domain", "memory", "guest", "16Ti")))
    for big in (str(sixteen_ti + 1), "1Ei", "17Ti"):
        run.refused(f"memory.guest {big}", vmis, vmi(setter("domain", "memory", "guest", big)),
                    "spec.domain.memory.guest", ["is larger than Vireo's limit of 16Ti"])
    for which in ("requests", "limits"):
        run.accepted(f"resources.{which}.memory 16Ti", vmis,
                     vmi(setter("domain", "resources", which, "memory", "16Ti")))
        run.refused(f"resources.{which}.memory 17Ti", vmis,
                    vmi(setter("domain", "resources", which, "memory", "17Ti")),
                    f"spec.domain.resources.{which}", ["memory is larger than Vireo's limit of 16Ti"])
        # cpu: 1024 cores.
        run.accepted(f"resources.{which}.cpu 1024", vmis, vmi(setter("domain", "resources", which, "cpu", 1024)))
        for big in (1025, "1024001m", "1e6"):
            run.refused(f"resources.{which}.cpu {big}", vmis,
                        vmi(setter("domain", "resources", which, "cpu", big)),
                        f"spec.domain.resources.{which}", ["cpu is larger than Vireo's limit of 1024"])

    # Disks and claims: 1Pi.
    run.accepted("emptyDisk 1Pi", vmis, vmi(setter("volumes", 2, "emptyDisk", "capacity", "1Pi")))
    run.refused("emptyDisk 1025Ti", vmis, vmi(setter("volumes", 2, "emptyDisk", "capacity", "1025Ti")),
                "spec.volumes[2].emptyDisk.capacity", ["is larger than Vireo's limit of 1Pi"])
    run.accepted("a DataVolume of 1Pi", "datavolumes", datavolume("1Pi"))
    run.refused("a DataVolume of 2Pi", "datavolumes", datavolume("2Pi"),
                "spec.storage.resources.requests.storage", ["is larger than Vireo's limit of 1Pi"])
    run.refused("a VM's DataVolume template of 2Pi", "virtualmachines", vm_with_dv("2Pi"),
                "spec.dataVolumeTemplates[0].spec.storage.resources.requests.storage",
                ["is larger than Vireo's limit of 1Pi"])

    # terminationGracePeriodSeconds: 2^31 - 1.
    run.accepted("terminationGracePeriodSeconds 2147483647", vmis,
                 vmi(setter("terminationGracePeriodSeconds", 2147483647)))
    run.refused("terminationGracePeriodSeconds 2147483648", vmis,
                vmi(setter("terminationGracePeriodSeconds", 2147483648)),
                "spec.terminationGracePeriodSeconds", ["less than or equal to 2147483647"])
    # nodeSelector values, as label values: 63 characters.
    run.accepted("a nodeSelector value of 63 characters", vmis, vmi(setter("nodeSelector", "zone", "z" * 63)))
    run.refused("a nodeSelector value of 64 characters", vmis, vmi(setter("nodeSelector", "zone", "z" * 64)),
                "spec.nodeSelector.zone", ["63"])

    print(f"crd_bounds: {run.passed} passed, {run.failed} failed")
    return 0 if run.failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
