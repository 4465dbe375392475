#!/usr/bin/env python3
"""Counts test cases across meson's JSON test logs and prints one closing line,
"tests: N passed, M failed, K skipped".

GoogleTest binaries count their cases ("[  PASSED  ] N tests", "[  FAILED  ]
N tests", "[  SKIPPED ] N tests", each skipped case named with the reason it
gave); scripts that print "NAME: N passed, M failed[, K skipped]" count
theirs; anything else counts as one case by meson's result (OK, FAIL, SKIP
for exit status 77, ...). A process that failed after its cases passed
(a crash, a timeout, a sanitizer report at exit) counts one more failure.

With --ci (hack/test.sh passes it when CI=true) every skip must be named in
the allow-list (hack/ci-allowed-skips.txt: one skip a line, its name and why
CI may see it), and a log that holds no test at all is an error: a skip the
environment should not cause, or a suite that ran nothing, makes the exit
status 1. Without --ci skips are printed and counted, never fatal.

  summarize-tests.py [--ci] [--allowed-skips FILE] testlog-*.json
"""
import argparse
import json
import os
import re
import sys

GTEST_RAN = re.compile(r"^\[==========\] \d+ tests? from .* ran\.", re.M)
GTEST_PASSED = re.compile(r"^\[  PASSED  \] (\d+) tests?\.", re.M)
GTEST_FAILED = re.compile(r"^\[  FAILED  \] (\d+) tests?, listed below", re.M)
GTEST_SKIPPED = re.compile(r"^\[  SKIPPED \] (\d+) tests?, listed below", re.M)
# The per-case line printed when the case ends: "[  SKIPPED ] Suite.Name (3 ms)".
GTEST_SKIPPED_CASE = re.compile(r"^\[  SKIPPED \] (\S+) \(\d+ ms\)$", re.M)
PLAIN = re.compile(r"^(?:\w+: )?(\d+) passed, (\d+) failed(?:, (\d+) skipped)?", re.M)

DEFAULT_ALLOWED = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                               "ci-allowed-skips.txt")


class Skip:
    """One skipped case: `name` is what the allow-list must say."""

    def __init__(self, name, where, reason):
        self.name, self.where, self.reason = name, where, reason

    def __str__(self):
        return f"{self.name} (in {self.where}): {self.reason or 'no reason given'}"


def short_name(meson_name):
    """meson names tests "project:suite / name"; the allow-list may use the name alone."""
    return meson_name.split(" / ", 1)[-1]


def gtest_skip_reason(out, case):
    """The message GTEST_SKIP() printed between the case's RUN and SKIPPED lines."""
    start = out.find(f"[ RUN      ] {case}\n")
    end = out.find(f"[  SKIPPED ] {case} (", start)
    if start < 0 or end < 0:
        return ""
    lines = out[start:end].splitlines()[1:]
    lines = [line for line in lines if not re.match(r"^\S+:\d+: Skipped$", line)]
    return " ".join(line.strip() for line in lines if line.strip())


def summarize(paths):
    """(passed, failed, skips, empty_logs) over the logs."""
    passed = failed = 0
    skips = []
    empty = []
    for path in paths:
        entries = 0
        with open(path, encoding="utf-8") as log:
            for line in log:
                if not line.strip():
                    continue
                entries += 1
                entry = json.loads(line)
                name = entry.get("name", "?")
                out = entry.get("stdout") or ""
                result = entry.get("result")
                ok = result in ("OK", "EXPECTEDFAIL")
                plain = PLAIN.findall(out)
                f = 0
                if GTEST_RAN.search(out) or GTEST_PASSED.search(out) or GTEST_FAILED.search(out):
                    passed += sum(int(n) for n in GTEST_PASSED.findall(out))
                    f = sum(int(n) for n in GTEST_FAILED.findall(out))
                    failed += f
                    cases = GTEST_SKIPPED_CASE.findall(out)
                    count = sum(int(n) for n in GTEST_SKIPPED.findall(out))
                    for case in cases:
                        skips.append(Skip(case, name, gtest_skip_reason(out, case)))
                    for _ in range(count - len(cases)):  # named nowhere: count them anyway
                        skips.append(Skip(short_name(name), name, "a GoogleTest case skipped"))
                elif plain:
                    p, f, s = plain[-1]
                    passed += int(p)
                    f = int(f)
                    failed += f
                    for _ in range(int(s or 0)):
                        skips.append(Skip(short_name(name), name, "the script counted a skip"))
                elif result == "SKIP":
                    last = out.strip().splitlines()[-1:] or [""]
                    skips.append(Skip(short_name(name), name, "exit status 77. " + last[0]))
                    continue
                else:
                    passed += ok
                    failed += not ok
                    continue
                if not ok and not f and result != "SKIP":
                    failed += 1  # crashed or timed out after its cases passed
        if entries == 0:
            empty.append(path)
    return passed, failed, skips, empty


def read_allowed(path):
    """{name: reason} from the allow-list; a name without a reason is an error."""
    allowed = {}
    if not os.path.exists(path):
        return allowed
    with open(path, encoding="utf-8") as text:
        for number, line in enumerate(text, 1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            name, _, reason = line.partition(" ")
            if not reason.strip():
                raise SystemExit(f"summarize: {path}:{number}: {name} needs a reason after it")
            allowed[name] = reason.strip()
    return allowed


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ci", action="store_true",
                        help="fail on a skip the allow-list does not name, or an empty log")
    parser.add_argument("--allowed-skips", default=DEFAULT_ALLOWED)
    parser.add_argument("logs", nargs="*")
    args = parser.parse_args(argv)

    passed, failed, skips, empty = summarize(args.logs)
    allowed = read_allowed(args.allowed_skips) if args.ci else {}
    refused = []
    for skip in skips:
        verdict = ""
        if args.ci:
            if skip.name in allowed:
                verdict = f"  [allowed in CI: {allowed[skip.name]}]"
            else:
                refused.append(skip)
                verdict = "  [NOT ALLOWED in CI]"
        print(f"skipped: {skip}{verdict}")
    for path in empty:
        print(f"summarize: {path} holds no test: the suite ran nothing")
    print(f"tests: {passed} passed, {failed} failed, {len(skips)} skipped")
    if args.ci and (refused or empty):
        if refused:
            print(f"summarize: {len(refused)} skip(s) CI may not see; fix the environment or "
                  f"the test, or name the skip and why in {args.allowed_skips}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
