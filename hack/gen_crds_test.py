#!/usr/bin/python3
"""T0 of hack/gen-crds.py's --check and --fields modes, on a copy of the tree.

--check must fail, naming the file, when docs/fields.md or a CRD is stale;
--fields must list supported fields only (not the refused ones), each with
an object that carries the required fields on its way.
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class GenCrdsTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="gen-crds-test-")
        os.makedirs(os.path.join(self.tmp, "hack"))
        shutil.copy(os.path.join(ROOT, "hack", "gen-crds.py"), os.path.join(self.tmp, "hack"))
        shutil.copytree(os.path.join(ROOT, "crds"), os.path.join(self.tmp, "crds"))
        shutil.copytree(os.path.join(ROOT, "manifests", "chart", "crds"),
                        os.path.join(self.tmp, "manifests", "chart", "crds"))
        os.makedirs(os.path.join(self.tmp, "docs"))
        shutil.copy(os.path.join(ROOT, "docs", "fields.md"), os.path.join(self.tmp, "docs"))

    def tearDown(self):
        shutil.rmtree(self.tmp)

    def run_gen(self, *args):
        return subprocess.run([sys.executable, os.path.join(self.tmp, "hack", "gen-crds.py"), *args],
                              capture_output=True, text=True, check=False)

    def test_check_passes_on_the_tree_and_fails_on_a_stale_table(self):
        self.assertEqual(self.run_gen("--check").returncode, 0)
        with open(os.path.join(self.tmp, "docs", "fields.md"), "a", encoding="utf-8") as f:
            f.write("| `spec.madeUp` | string | hand-edited |\n")
        result = self.run_gen("--check")
        self.assertEqual(result.returncode, 1)
        self.assertIn("docs/fields.md is stale", result.stderr)

    def test_check_fails_when_a_description_changes_without_regenerating(self):
        path = os.path.join(self.tmp, "crds", "src", "vmi-spec.yaml")
        with open(path, encoding="utf-8") as f:
            text = f.read()
        old = "description: Cores per socket. At least 1; defaults to 1."
        self.assertIn(old, text, "vmi-spec.yaml changed shape; update this test")
        with open(path, "w", encoding="utf-8") as f:
            f.write(text.replace(old, "description: Cores in each socket."))
        result = self.run_gen("--check")
        self.assertEqual(result.returncode, 1)
        self.assertIn("docs/fields.md is stale", result.stderr)
        self.assertIn("crds/virtualmachineinstances.kubevirt.io.yaml is stale", result.stderr)

    def test_fields_lists_supported_fields_with_required_siblings(self):
        out = os.path.join(self.tmp, "fields.json")
        result = self.run_gen("--fields", out)
        self.assertEqual(result.returncode, 0, result.stderr)
        with open(out, encoding="utf-8") as f:
            kinds = json.load(f)
        vmi = {f["path"]: f for f in kinds["VirtualMachineInstance"]["fields"]}
        self.assertIn("spec.domain.cpu.cores", vmi)
        self.assertNotIn("spec.domain.cpu.model", vmi)  # refused: unsupported.yaml
        self.assertFalse(vmi["spec.domain.cpu"]["leaf"])
        port = vmi["spec.domain.devices.interfaces[].ports[].protocol"]
        self.assertEqual(port["value"], "TCP")
        iface = port["object"]["spec"]["domain"]["devices"]["interfaces"][0]
        self.assertEqual(iface["name"], "sample")  # required beside the field
        self.assertEqual(iface["ports"][0]["port"], 1)  # required, minimum 1
        self.assertEqual(vmi["apiVersion"]["value"], "kubevirt.io/v1")
        vm = {f["path"] for f in kinds["VirtualMachine"]["fields"]}
        self.assertIn("spec.template.spec.domain.cpu.cores", vm)
        self.assertIn("spec.dataVolumeTemplates[].spec.source.http.url", vm)

    def test_codec_fields_lists_plain_supported_fields_and_refuses_others(self):
        out = os.path.join(self.tmp, "codec_fields.h")
        result = self.run_gen("--codec-fields", out)
        self.assertEqual(result.returncode, 0, result.stderr)
        with open(out, encoding="utf-8") as f:
            header = f.read()
        self.assertIn('f("imagePullPolicy", s.image_pull_policy, kValue);', header)
        self.assertIn('f("capacity", s.capacity, kQuantity);', header)
        self.assertNotIn("imagePullSecret", header)  # refused: unsupported.yaml
        # An object field cannot be held one to one: the generator says so.
        path = os.path.join(self.tmp, "crds", "src", "vmi-spec.yaml")
        with open(path, encoding="utf-8") as f:
            text = f.read()
        # containerDisk's (kernelBoot.container has one too, indented deeper).
        old = "\n            imagePullPolicy:\n"
        self.assertIn(old, text, "vmi-spec.yaml changed shape; update this test")
        with open(path, "w", encoding="utf-8") as f:
            f.write(text.replace(old, "\n            knobs:\n              type: object\n"
                                      "              description: made up" + old, 1))
        result = self.run_gen("--codec-fields", out)
        self.assertEqual(result.returncode, 1)
        self.assertIn("spec.volumes[].containerDisk.knobs", result.stderr)


if __name__ == "__main__":
    unittest.main()
