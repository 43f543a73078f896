#!/usr/bin/env python3
"""Counts test cases across meson's test logs and prints "N passed, N failed".

Usage: summarize.py [--leaked N] [--reports DIR]... [--failed NAME]...
                    BUILDDIR/meson-logs/testlog.json...

Several build directories (the plain build, the sanitizer builds, ...) are
counted together; each test is named after its build directory ("build-asan:
cli test_sysv_shm") so that the failures printed before the summary line say
which build failed. Catch2 and Python's unittest each report their own
totals; a test program that died before reporting counts as one failure.

--reports DIR: a sanitizer report directory; the check is one test that
  passes when DIR holds no file, and fails (printing the reports) otherwise.
--failed NAME: a step that failed before its tests could run (a build),
  counted as one failed test.
--leaked N: the suite left N IPC objects behind; one failed test.

Exit status 1 if any failed.
"""

import json
import os
import re
import subprocess
import sys

CATCH_ALL = re.compile(r"All tests passed \(\d+ assertions? in (\d+) test cases?\)")
CATCH_SOME = re.compile(r"test cases:\s*(\d+)\s*\|\s*(\d+) passed\s*\|\s*(\d+) failed")
UNITTEST_RAN = re.compile(r"^Ran (\d+) tests? in ", re.M)
UNITTEST_END = re.compile(r"^(OK|FAILED)(?: \((.*)\))?\s*$", re.M)
UNITTEST_FAILURE = re.compile(r"^(?:FAIL|ERROR): (\S+) \(([^)]*)\)", re.M)
# A stack frame without a source line: " (/path/to/binary+0x1f2e)".
UNPLACED_FRAME = re.compile(r" \((/[^()+]+)\+(0x[0-9a-f]+)\)$")
# Lines of a report shown, and reports shown per directory.
REPORT_LINES = 40
REPORTS_SHOWN = 5


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


def failed_cases(entry):
    """The names of the unittest cases that failed, as far as the log says."""
    text = (entry.get("stdout") or "") + "\n" + (entry.get("stderr") or "")
    return sorted(set("%s (%s)" % (m.group(1), m.group(2).rsplit(".", 1)[0])
                      for m in UNITTEST_FAILURE.finditer(text)))


def build_dir_name(testlog):
    """"build-asan" for build-asan/meson-logs/testlog.json."""
    return os.path.basename(os.path.dirname(os.path.dirname(
        os.path.abspath(testlog))))


def add_lines(lines):
    """Source lines for the frames the runtime named without one: GCC 12's
    built-in symbolizer gives some functions of a large program only their
    name ("in f() (/build/tool+0x1234)"); addr2line finds the rest."""
    wanted = {}
    for line in lines:
        m = UNPLACED_FRAME.search(line)
        if m:
            wanted.setdefault(m.group(1), set()).add(m.group(2))
    places = {}
    for binary, offsets in wanted.items():
        offsets = sorted(offsets)
        try:
            out = subprocess.run(["addr2line", "-e", binary] + offsets,
                                 capture_output=True, text=True,
                                 timeout=60).stdout.splitlines()
        except (OSError, subprocess.SubprocessError):
            continue
        for offset, place in zip(offsets, out):
            if not place.startswith("??"):
                places[(binary, offset)] = place
    result = []
    for line in lines:
        m = UNPLACED_FRAME.search(line)
        if m and (m.group(1), m.group(2)) in places:
            line = line[:m.start()] + " " + places[(m.group(1), m.group(2))]
        result.append(line)
    return result


def show_reports(name, files):
    print("FAIL %s: %d sanitizer report(s)" % (name, len(files)))
    for path in files[:REPORTS_SHOWN]:
        print("---- %s" % path)
        try:
            with open(path, errors="replace") as f:
                lines = f.read().splitlines()
        except OSError as e:
            lines = ["(unreadable: %s)" % e]
        for line in add_lines(lines[:REPORT_LINES]):
            print("    " + line)
        if len(lines) > REPORT_LINES:
            print("    ... %d more lines" % (len(lines) - REPORT_LINES))
    if len(files) > REPORTS_SHOWN:
        print("---- and %d more in %s" % (len(files) - REPORTS_SHOWN,
                                         os.path.dirname(files[0])))


def figure_lines(entry):
    """The figures a test prints for RELIABILITY.md: the kill storm's JSON
    line, and each fuzz target's summary line."""
    out = (entry.get("stdout") or "").splitlines()
    if entry.get("name") == "kill storm":
        return ["kill storm " + l for l in out if l.startswith("{")][-1:]
    return [l for l in out if ": summary: " in l][-1:]


def main():
    args = sys.argv[1:]
    leaked = 0
    report_dirs = []
    failed_steps = []
    logs = []
    while args:
        arg = args.pop(0)
        if arg == "--leaked":
            leaked = int(args.pop(0))
        elif arg == "--reports":
            report_dirs.append(args.pop(0))
        elif arg == "--failed":
            failed_steps.append(args.pop(0))
        else:
            logs.append(arg)
    passed = failed = skipped = 0
    figures = []
    for step in failed_steps:
        print("FAIL %s" % step)
        failed += 1
    for testlog in logs:
        prefix = build_dir_name(testlog)
        try:
            with open(testlog) as log:
                entries = [json.loads(line) for line in log if line.strip()]
        except (OSError, ValueError) as e:
            print("FAIL %s: no test log (%s)" % (prefix, e))
            failed += 1
            continue
        dir_passed = dir_failed = 0
        for entry in entries:
            figures.extend("%s: %s" % (prefix, line)
                           for line in figure_lines(entry))
            p, f, s = count(entry)
            passed += p
            failed += f
            skipped += s
            dir_passed += p
            dir_failed += f
            if f:
                cases = failed_cases(entry)
                print("FAIL %s: %s (%s)%s" % (
                    prefix, entry.get("name"), entry.get("result"),
                    "".join("\n    " + c for c in cases)))
        print("%s: %d passed, %d failed (%d test programs, %.0f s summed)" % (
            prefix, dir_passed, dir_failed, len(entries),
            sum(e.get("duration", 0) for e in entries)))
    for directory in report_dirs:
        name = build_dir_name(os.path.join(directory, "x")) + \
            ": sanitizer reports"
        try:
            files = sorted(os.path.join(directory, f)
                           for f in os.listdir(directory))
        except OSError as e:
            print("FAIL %s: %s" % (name, e))
            failed += 1
            continue
        if files:
            show_reports(name, files)
            failed += 1
        else:
            passed += 1
    if leaked:
        failed += 1  # the suite's own check: nothing may be left behind
    for line in figures:
        print(line)
    line = "%d passed, %d failed" % (passed, failed)
    if skipped:
        line += ", %d skipped" % skipped
    print(line)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
