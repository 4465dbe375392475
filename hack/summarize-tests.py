#!/usr/bin/env python3
"""Counts test cases across meson's JSON test logs and prints one closing line,
"tests: N passed, M failed". GoogleTest binaries count their cases; scripts
that print "NAME: N passed, M failed" count theirs; anything else counts as
one case by its result."""
import json
import re
import sys

GTEST_PASSED = re.compile(r"^\[  PASSED  \] (\d+) tests?\.", re.M)
GTEST_FAILED = re.compile(r"^\[  FAILED  \] (\d+) tests?, listed below", re.M)
PLAIN = re.compile(r"^(?:\w+: )?(\d+) passed, (\d+) failed", re.M)

passed = failed = 0
for path in sys.argv[1:]:
    with open(path, encoding="utf-8") as log:
        for line in log:
            entry = json.loads(line)
            out = entry.get("stdout") or ""
            ok = entry.get("result") in ("OK", "EXPECTEDFAIL")
            p = sum(int(n) for n in GTEST_PASSED.findall(out))
            f = sum(int(n) for n in GTEST_FAILED.findall(out))
            plain = PLAIN.findall(out)
            if p or f:
                passed += p
                failed += f
            elif plain:
                passed += int(plain[-1][0])
                f = int(plain[-1][1])
                failed += f
            else:
                passed += ok
                failed += not ok
                continue
            if not ok and not f:
                failed += 1  # crashed or timed out after its cases passed
print(f"tests: {passed} passed, {failed} failed")
