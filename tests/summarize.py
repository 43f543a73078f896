#!/usr/bin/env python3
"""Counts test cases across meson's test log and prints "N passed, N failed".

Catch2 and Python's unittest each report their own totals; a test program
that died before reporting counts as one failure. Exit status 1 if any
failed.
"""

import json
import re
import sys

CATCH_ALL = re.compile(r"All tests passed \(\d+ assertions? in (\d+) test cases?\)")
CATCH_SOME = re.compile(r"test cases:\s*(\d+)\s*\|\s*(\d+) passed\s*\|\s*(\d+) failed")
UNITTEST_RAN = re.compile(r"^Ran (\d+) tests? in ", re.M)
UNITTEST_END = re.compile(r"^(OK|FAILED)(?: \((.*)\))?\s*$", re.M)


def count(entry):
    """(passed, failed, skipped) for one meson test."""
    text = (entry.get("stdout") or "") + "\n" + (entry.get("stderr") or "")
    ok = entry.get("result") == "OK"
    m = CATCH_ALL.search(text)
    if m:
        return int(m.group(1)), 0 if ok else 1, 0
    m = CATCH_SOME.search(text)
    if m:
        return int(m.group(2)), max(int(m.group(3)), 0 if ok else 1), 0
    ran = UNITTEST_RAN.search(text)
    end = UNITTEST_END.search(text)
    if ran and end:
        total = int(ran.group(1))
        details = dict(
            (k.strip(), int(v)) for k, v in
            (part.split("=") for part in (end.group(2) or "").split(",") if "=" in part))
        failed = details.get("failures", 0) + details.get("errors", 0) + \
            details.get("unexpected successes", 0)
        skipped = details.get("skipped", 0)
        if not ok and failed == 0:
            failed = 1
        return total - failed - skipped, failed, skipped
    return (1, 0, 0) if ok else (0, 1, 0)


def main():
    args = sys.argv[1:]
    leaked = 0
    if "--leaked" in args:
        i = args.index("--leaked")
        leaked = int(args[i + 1])
        del args[i:i + 2]
    passed = failed = skipped = 0
    with open(args[0]) as log:
        for line in log:
            if not line.strip():
                continue
            p, f, s = count(json.loads(line))
            passed += p
            failed += f
            skipped += s
    if leaked:
        failed += 1  # the suite's own check: nothing may be left behind
    line = "%d passed, %d failed" % (passed, failed)
    if skipped:
        line += ", %d skipped" % skipped
    print(line)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
