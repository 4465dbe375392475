#!/usr/bin/env python3
"""T0: hack/summarize-tests.py on meson JSON logs (testdata/testlog-sample.json
was written by meson 1.0 running a GoogleTest binary and a few shell
one-liners: cases passed, failed, skipped by GTEST_SKIP, a whole run of
skips, exit status 77, a script's own counts, a crash after passing)."""
import json
import os
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
SCRIPT = os.path.join(HERE, "summarize-tests.py")
SAMPLE = os.path.join(HERE, "testdata", "testlog-sample.json")
SAMPLE_SKIPS = ["A.Skips", "script_skip", "script_counts_skips"]


def run(*args):
    done = subprocess.run([sys.executable, SCRIPT, *args], capture_output=True, text=True,
                          check=False)
    return done.returncode, done.stdout + done.stderr


class SummarizeTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.TemporaryDirectory()
        self.addCleanup(self.dir.cleanup)

    def write(self, name, text):
        path = os.path.join(self.dir.name, name)
        with open(path, "w", encoding="utf-8") as out:
            out.write(text)
        return path

    def allow(self, names):
        return self.write("allowed.txt", "# CI may see these\n\n" +
                          "".join(f"{n} because the sample says so\n" for n in names))

    def test_counts_skips_and_prints_them(self):
        rc, out = run(SAMPLE)
        self.assertEqual(rc, 0, out)
        self.assertIn("tests: 12 passed, 3 failed, 5 skipped", out.splitlines()[-1])
        self.assertIn("skipped: A.Skips (in all_skipped): no /dev/kvm here", out)
        self.assertIn("skipped: script_skip (in script_skip): exit status 77. no cluster here", out)

    def test_a_binary_that_skips_everything_passes_nothing(self):
        entry = None
        with open(SAMPLE, encoding="utf-8") as log:
            for line in log:
                if json.loads(line)["name"] == "all_skipped":
                    entry = line
        self.assertIsNotNone(entry)
        rc, out = run(self.write("testlog-skips.json", entry))
        self.assertEqual(rc, 0, out)
        self.assertEqual(out.splitlines()[-1], "tests: 0 passed, 0 failed, 1 skipped")

    def test_ci_fails_on_a_skip_the_allow_list_does_not_name(self):
        allowed = self.allow(SAMPLE_SKIPS[1:])
        rc, out = run("--ci", "--allowed-skips", allowed, SAMPLE)
        self.assertEqual(rc, 1, out)
        self.assertIn("skipped: A.Skips (in mixed): no /dev/kvm here  [NOT ALLOWED in CI]", out)
        self.assertIn("2 skip(s) CI may not see", out)

    def test_ci_passes_when_every_skip_is_allowed(self):
        rc, out = run("--ci", "--allowed-skips", self.allow(SAMPLE_SKIPS), SAMPLE)
        self.assertEqual(rc, 0, out)
        self.assertIn("[allowed in CI: because the sample says so]", out)

    def test_ci_fails_on_a_log_without_tests(self):
        empty = self.write("testlog-nothing.json", "")
        rc, out = run("--ci", "--allowed-skips", self.allow(SAMPLE_SKIPS), SAMPLE, empty)
        self.assertEqual(rc, 1, out)
        self.assertIn("testlog-nothing.json holds no test", out)
        rc, out = run(empty)
        self.assertEqual(rc, 0, out)

    def test_an_allowed_skip_needs_a_reason(self):
        rc, out = run("--ci", "--allowed-skips", self.write("bad.txt", "A.Skips\n"), SAMPLE)
        self.assertNotEqual(rc, 0)
        self.assertIn("A.Skips needs a reason", out)

    def test_the_checked_in_allow_list_reads(self):
        rc, out = run("--ci", SAMPLE)
        self.assertEqual(rc, 1, out)  # the sample's skips are not CI's
        self.assertNotIn("needs a reason", out)


if __name__ == "__main__":
    unittest.main(verbosity=2)
