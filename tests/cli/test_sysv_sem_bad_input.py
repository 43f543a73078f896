"""Bad input to sysv-sem: every malformed or refused invocation in BAD_CASES
must print exactly one JSON error line on stderr and nothing on stdout, exit
with the documented status and errno code, and change nothing: the target
set's values, waiters and last pids (as `ipcs -s -i` prints them) and its
/proc/sysvipc/sem row (mode, owner, otime, ctime) stay as they were, and no
new set appears.

Run: IPCTK_BUILD_DIR=build /usr/bin/python3 tests/cli/test_sysv_sem_bad_input.py
Needs root (setpriv to 'nobody', and a marker gid for the tool's runs).
"""

import json
import os
import pwd
import random
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ipctk_test  # noqa: E402
from ipctk_test import (  # noqa: E402
    fresh_sem_key as fresh_key, IpcTestCase, proc_sysvipc, run, sem_row, tool_path)

NOBODY = pwd.getpwnam("nobody").pw_uid
UNUSED_ID = 2147483647   # a valid id number no set has
# Every set a root case's run of the tool could make has this creator gid
# (the tool runs with it as its real and effective gid; root keeps its
# capabilities, so nothing else changes). Sets made by tests running in
# parallel have other creator gids, so they are never mistaken for ours.
# The cases run as nobody get it too.
MARK_GID = 3000000000 + random.randrange(1, 1 << 20)

with open("/proc/sys/kernel/sem") as _f:
    SEMMSL, SEMMNS, SEMOPM, SEMMNI = (int(v) for v in _f.read().split())

# The target: a root-owned 0600 set with a fresh key, 3 semaphores.
TARGET_VALUES = [1, 0, 2]


def rows_with_key(key):
    return [r for r in proc_sysvipc("sem")
            if key != 0 and int(r["key"]) & 0xFFFFFFFF == key]


def run_marked(tool, *args, input=None, timeout=30):
    """Runs a built tool as root with MARK_GID as its gid, so that any set
    it creates can be told from sets other processes create meanwhile."""
    argv = [tool_path(tool)] + [str(a) for a in args]
    stdin = subprocess.DEVNULL if input is None else subprocess.PIPE
    with subprocess.Popen(argv, stdin=stdin, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, group=MARK_GID) as proc:
        try:
            out, err = proc.communicate(input, timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()
            raise
        return ipctk_test.Result(argv, proc.pid, proc.returncode, out, err)


# ---------------------------------------------------------------------------
# The table: (name, argv, exit status, error code(s)[, options]).
# argv may name {id} and {key} (the target set), {newkey} (a key no set
# has) and {unused} (an id no set has). Options: user ("nobody"). The
# refusals to an unprivileged user are in test_security.py, which runs them
# through BadInputHarness.
# Values of the target: semaphore 0 is 1, semaphore 1 is 0, semaphore 2 is 2.
USAGE = "EINVAL"
TOO_MANY_OPS = ["0:+1"] * (SEMOPM + 1)

BAD_CASES = [
    # malformed SPECs
    ("SPEC without a colon", ["op", "{id}", "1"], 2, USAGE),
    ("empty SPEC", ["op", "{id}", ""], 2, USAGE),
    ("SPEC with an empty DELTA", ["op", "{id}", "0:"], 2, USAGE),
    ("SPEC with an empty NUM", ["op", "{id}", ":1"], 2, USAGE),
    ("SPEC with a junk flag", ["op", "{id}", "0:1:wait"], 2, USAGE),
    ("SPEC with a duplicated flag", ["op", "{id}", "0:-1:nowait:nowait"], 2, USAGE),
    ("SPEC with an empty flag", ["op", "{id}", "0:1:"], 2, USAGE),
    ("SPEC DELTA 32768", ["op", "{id}", "0:32768"], 2, USAGE),
    ("SPEC DELTA -32768", ["op", "{id}", "0:-32768"], 2, USAGE),
    ("SPEC DELTA overflowing 64 bits", ["op", "{id}", "0:99999999999999999999"], 2, USAGE),
    ("SPEC non-numeric DELTA", ["op", "{id}", "0:one"], 2, USAGE),
    ("SPEC DELTA with junk after it", ["op", "{id}", "0:1x"], 2, USAGE),
    ("SPEC DELTA with two signs", ["op", "{id}", "0:+-1"], 2, USAGE),
    ("SPEC non-numeric NUM", ["op", "{id}", "x:1"], 2, USAGE),
    ("SPEC negative NUM", ["op", "{id}", "-1:1"], 2, USAGE),
    ("SPEC NUM above 65535", ["op", "{id}", "65536:1"], 2, USAGE),
    ("SPEC with too many fields", ["op", "{id}", "0:1:undo:nowait:undo"], 2, USAGE),
    ("a good SPEC then a bad one", ["op", "{id}", "0:+1", "1:x"], 2, USAGE),
    ("op without a SPEC", ["op", "{id}"], 2, USAGE),
    ("op without anything", ["op"], 2, USAGE),
    ("op id not a number", ["op", "abc", "0:1"], 2, USAGE),
    # semaphore numbers beyond the set
    ("op NUM out of range", ["op", "{id}", "3:1"], 1, "EFBIG"),
    ("op good NUM then one out of range", ["op", "{id}", "0:+1", "3:+1"], 1, "EFBIG"),
    ("P NUM out of range", ["P", "{id}", "3"], 1, "EFBIG"),
    ("V NUM out of range", ["V", "{id}", "7"], 1, "EFBIG"),
    ("P NUM not a number", ["P", "{id}", "one"], 2, USAGE),
    ("P with one word too many", ["P", "{id}", "0", "1"], 2, USAGE),
    ("set --value NUM out of range", ["set", "{id}", "--value", "3=1"], 1, "EFBIG"),
    ("set --value good then NUM out of range",
     ["set", "{id}", "--value", "0=9", "--value", "3=1"], 1, "EFBIG"),
    # values above SEMVMX (32767 on Linux), or not values
    ("set --value above SEMVMX", ["set", "{id}", "--value", "0=32768"], 2, "ERANGE"),
    ("set --value good then above SEMVMX",
     ["set", "{id}", "--value", "0=9", "--value", "1=32768"], 2, "ERANGE"),
    ("set --all above SEMVMX", ["set", "{id}", "--all", "32768"], 2, "ERANGE"),
    ("set --all list with one above SEMVMX", ["set", "{id}", "--all", "1,32768,1"], 2, "ERANGE"),
    ("get --init above SEMVMX",
     ["get", "--key", "{newkey}", "--create", "--excl", "--init", "32768"], 2, "ERANGE"),
    ("get --private --init list above SEMVMX",
     ["get", "--private", "--nsems", "2", "--init", "1,32768"], 2, "ERANGE"),
    ("set --value above 65535", ["set", "{id}", "--value", "0=65536"], 2, USAGE),
    ("set --value negative", ["set", "{id}", "--value", "0=-1"], 2, USAGE),
    ("set --value without =", ["set", "{id}", "--value", "0"], 2, USAGE),
    ("set --value with an empty NUM", ["set", "{id}", "--value", "=4"], 2, USAGE),
    ("set --value naming a semaphore twice",
     ["set", "{id}", "--value", "0=9", "--value", "0=8"], 2, USAGE),
    ("set --all with an empty item", ["set", "{id}", "--all", "1,,2"], 2, USAGE),
    ("set --all not a number", ["set", "{id}", "--all", "lots"], 2, USAGE),
    ("set --all count for neither 1 nor nsems", ["set", "{id}", "--all", "1,2"], 2, USAGE),
    # negative and zero counts
    ("P --by -1", ["P", "{id}", "--by", "-1"], 2, USAGE),
    ("V --by -1", ["V", "{id}", "--by", "-1"], 2, USAGE),
    ("P --by 0", ["P", "{id}", "--by", "0"], 2, USAGE),
    ("V --by 0", ["V", "{id}", "--by", "0"], 2, USAGE),
    ("V --by above 32767", ["V", "{id}", "--by", "32768"], 2, USAGE),
    ("get --nsems -1", ["get", "--private", "--nsems", "-1"], 2, USAGE),
    ("get --nsems 0 when creating",
     ["get", "--key", "{newkey}", "--create", "--excl", "--nsems", "0"], 2, USAGE),
    ("get --nsems not a number", ["get", "--private", "--nsems", "two"], 2, USAGE),
    ("get --init -1", ["get", "--private", "--init", "-1"], 2, USAGE),
    # --init count
    ("get --init count for neither 1 nor --nsems",
     ["get", "--private", "--nsems", "3", "--init", "1,2"], 2, USAGE),
    ("get --key --init with more values than --nsems",
     ["get", "--key", "{newkey}", "--create", "--excl", "--nsems", "2", "--init", "1,2,3"],
     2, USAGE),
    # unknown targets
    ("stat of an unknown id", ["stat", "{unused}"], 1, "EINVAL"),
    ("op on an unknown id", ["op", "{unused}", "0:1"], 1, "EINVAL"),
    ("P on an unknown id", ["P", "{unused}"], 1, "EINVAL"),
    ("set on an unknown id", ["set", "{unused}", "--value", "0=1"], 1, "EINVAL"),
    ("set --mode on an unknown id", ["set", "{unused}", "--mode", "0644"], 1, "EINVAL"),
    ("stat of an unknown --key", ["stat", "--key", "{newkey}"], 1, "ENOENT"),
    ("op on an unknown --key", ["op", "--key", "{newkey}", "0:1"], 1, "ENOENT"),
    ("V on an unknown --key", ["V", "--key", "{newkey}"], 1, "ENOENT"),
    ("get of an unknown --key", ["get", "--key", "{newkey}"], 1, "ENOENT"),
    ("stat --key 0 (private has no key)", ["stat", "--key", "0"], 2, USAGE),
    ("stat id too large", ["stat", "2147483648"], 2, USAGE),
    ("stat id not a number", ["stat", "abc"], 2, USAGE),
    ("stat with a bad hex key", ["stat", "--key", "0xZZ"], 2, USAGE),
    # conflicting flags
    ("op --nowait with --timeout", ["op", "{id}", "0:+1", "--nowait", "--timeout", "1"], 2, USAGE),
    ("P --nowait with --timeout", ["P", "{id}", "--nowait", "--timeout", "1"], 2, USAGE),
    ("set --value with --all", ["set", "{id}", "--value", "0=1", "--all", "1"], 2, USAGE),
    ("set --value with --mode", ["set", "{id}", "--value", "0=5", "--mode", "0644"], 2, USAGE),
    ("set --all with --uid", ["set", "{id}", "--all", "5", "--uid", "0"], 2, USAGE),
    ("get --key with --private", ["get", "--key", "{newkey}", "--private"], 2, USAGE),
    ("stat ID with --key", ["stat", "{id}", "--key", "{key}"], 2, USAGE),
    ("get --excl on an existing key", ["get", "--key", "{key}", "--create", "--excl"], 1, "EEXIST"),
    ("get --excl on an existing key with --init",
     ["get", "--key", "{key}", "--create", "--excl", "--nsems", "3", "--init", "5"], 1, "EEXIST"),
    ("get --excl without --create", ["get", "--key", "{newkey}", "--excl"], 2, USAGE),
    ("get --init without --create", ["get", "--key", "{newkey}", "--init", "1"], 2, USAGE),
    ("get --init without --create on an existing key", ["get", "--key", "{key}", "--init", "4"], 2, USAGE),
    ("get without a key", ["get", "--nsems", "1"], 2, USAGE),
    ("get --nsems larger than the existing set", ["get", "--key", "{key}", "--nsems", "4"], 1, "EINVAL"),
    # undo needs -- COMMAND
    ("op undo SPEC without -- COMMAND", ["op", "{id}", "0:+1:undo"], 2, USAGE),
    ("op --undo without -- COMMAND", ["op", "{id}", "--undo", "0:+1"], 2, USAGE),
    ("P --undo without -- COMMAND", ["P", "{id}", "--undo"], 2, USAGE),
    ("V --undo without -- COMMAND", ["V", "{id}", "--undo"], 2, USAGE),
    # -- COMMAND that cannot run: checked before the operation
    ("op -- COMMAND path that does not exist",
     ["op", "{id}", "0:+1", "--", "/nonexistent/ipctk-no-such-command"], 127, "ENOENT"),
    ("V -- COMMAND not in PATH", ["V", "{id}", "--", "ipctk-no-such-command"], 127, "ENOENT"),
    ("P --undo -- COMMAND that does not exist",
     ["P", "{id}", "--undo", "--", "/nonexistent/ipctk-no-such-command"], 127, "ENOENT"),
    ("op -- COMMAND that is not executable", ["op", "{id}", "2:-1", "--", "/etc/passwd"], 126, "EACCES"),
    ("-- with nothing after it", ["op", "{id}", "0:+1", "--"], 2, USAGE),
    ("-- COMMAND on stat", ["stat", "{id}", "--", "true"], 2, USAGE),
    ("-- COMMAND on set", ["set", "{id}", "--all", "5", "--", "true"], 2, USAGE),
    # --timeout and --conflict-exit-code
    ("op --timeout negative", ["op", "{id}", "0:+1", "--timeout", "-1"], 2, USAGE),
    ("op --timeout abc", ["op", "{id}", "0:+1", "--timeout", "abc"], 2, USAGE),
    ("P --timeout inf", ["P", "{id}", "--timeout", "inf"], 2, USAGE),
    ("P --timeout nan", ["P", "{id}", "--timeout", "nan"], 2, USAGE),
    ("op --conflict-exit-code 256", ["op", "{id}", "0:+1", "--conflict-exit-code", "256"], 2, USAGE),
    ("P --conflict-exit-code -1", ["P", "{id}", "--conflict-exit-code", "-1"], 2, USAGE),
    ("op --conflict-exit-code abc on a would-block",
     ["op", "{id}", "1:-1:nowait", "--conflict-exit-code", "abc"], 2, USAGE),
    # modes, owners
    ("get --mode 0800", ["get", "--key", "{newkey}", "--create", "--excl", "--mode", "0800"], 2, USAGE),
    ("get --mode beyond 0777", ["get", "--private", "--mode", "01000"], 2, USAGE),
    ("set --mode 0800", ["set", "{id}", "--mode", "0800"], 2, USAGE),
    ("set --mode symbolic", ["set", "{id}", "--mode", "rw"], 2, USAGE),
    ("set --mode with a bad --uid", ["set", "{id}", "--mode", "0644", "--uid", "-1"], 2, USAGE),
    ("set --uid 4294967295 (means unchanged)", ["set", "{id}", "--uid", "4294967295"], 2, USAGE),
    ("set --gid not a number", ["set", "{id}", "--gid", "staff"], 2, USAGE),
    ("set of nothing", ["set", "{id}"], 2, USAGE),
    # rm: all or nothing
    ("rm of a good and an unknown id", ["rm", "{id}", "{unused}"], 1, "EINVAL"),
    ("rm of an unknown and a good id", ["rm", "{unused}", "{id}"], 1, "EINVAL"),
    ("rm of a good id and an unknown key", ["rm", "{id}", "--key", "{newkey}"], 1, "ENOENT"),
    ("rm of a good and a malformed id", ["rm", "{id}", "abc"], 2, USAGE),
    ("rm of nothing", ["rm"], 2, USAGE),
    # list, info, the command line
    ("list with a bad key", ["list", "--key", "0xZZ"], 2, USAGE),
    ("list with a bad owner", ["list", "--owner", "root"], 2, USAGE),
    ("info with an argument", ["info", "5"], 2, USAGE),
    ("unknown subcommand", ["frobnicate", "{id}"], 2, USAGE),
    ("unknown flag", ["op", "{id}", "0:+1", "--frob"], 2, USAGE),
    ("no subcommand", [], 2, USAGE),
    # the kernel refuses
    ("op above SEMVMX", ["op", "{id}", "0:+32767:nowait"], 1, "ERANGE"),
    ("V above SEMVMX", ["V", "{id}", "2", "--by", "32767"], 1, "ERANGE"),
    ("more SPECs than semopm", ["op", "{id}"] + TOO_MANY_OPS, 1, "E2BIG"),
    # would block: nothing applied, exit 3 or --conflict-exit-code
    ("op would block on the second SPEC",
     ["op", "{id}", "0:-1:nowait", "1:-1:nowait"], 3, "EAGAIN"),
    ("op would block with --conflict-exit-code 7",
     ["op", "{id}", "0:-1:nowait", "1:-1:nowait", "--conflict-exit-code", "7"], 7, "EAGAIN"),
    ("op --nowait would block", ["op", "{id}", "--nowait", "0:-1", "2:+1", "1:-1"], 3, "EAGAIN"),
    ("op wait-for-zero would block", ["op", "{id}", "0:0:nowait"], 3, "EAGAIN"),
    ("op taking more than there is", ["op", "{id}", "2:-3:nowait"], 3, "EAGAIN"),
    ("P --nowait would block", ["P", "{id}", "1", "--nowait"], 3, "EAGAIN"),
    ("op --timeout runs out", ["op", "{id}", "2:+1", "1:-1", "--timeout", "0.2"], 3, "EAGAIN"),
    ("P --timeout runs out with --conflict-exit-code 9",
     ["P", "{id}", "1", "--timeout", "0.1", "--conflict-exit-code", "9"], 9, "EAGAIN"),
]


class BadInputHarness(IpcTestCase):
    """Runs a table of refused invocations against a fresh target set and
    checks each left everything as it was (test_security.py runs its own
    tables through it too)."""

    def snapshot(self, semid):
        """What must not change: the set's whole /proc/sysvipc/sem row
        (perms, owner, otime, ctime) and everything `ipcs -s -i` prints
        (owner, mode, times, and per semaphore value, ncount, zcount, pid).
        None if the set is gone."""
        row = sem_row(semid)
        if row is None:
            return None
        ipcs = subprocess.run(["ipcs", "-s", "-i", str(semid)],
                              capture_output=True, text=True)
        return row, ipcs.returncode, ipcs.stdout

    def fresh_target(self):
        key = fresh_key()
        r = run("sysv-sem", "get", "--key", hex(key), "--create", "--excl",
                "--nsems", len(TARGET_VALUES), "--mode", "0600",
                "--init", ",".join(str(v) for v in TARGET_VALUES))
        doc = self.assertOk(r)
        semid = self.track_sem(doc["id"])
        self.assertEqual((doc["key"], doc["nsems"], doc["mode"], doc["uid"]),
                         (key, len(TARGET_VALUES), 0o600, 0))
        self.assertEqual(self.sem_values(semid), TARGET_VALUES)
        # otime is in seconds: a case that stamped it within the second the
        # set was made would go unseen.
        otime = int(sem_row(semid)["otime"])
        while time.time() < otime + 1:
            time.sleep(0.05)
        return semid, key, self.snapshot(semid)

    def run_table(self, cases):
        semid, key, baseline = self.fresh_target()
        newkey = fresh_key()
        for case in cases:
            name, argv, status, codes = case[:4]
            options = dict(case[4]) if len(case) > 4 else {}
            user = options.pop("user", None)
            if isinstance(codes, str):
                codes = (codes,)
            if self.snapshot(semid) != baseline:
                # An earlier case changed it (and failed for that): start
                # the next one from a good target, so that each failure is
                # reported once.
                subprocess.run(["ipcrm", "-s", str(semid)],
                               stderr=subprocess.DEVNULL)
                semid, key, baseline = self.fresh_target()
            names = dict(id=semid, key=hex(key), newkey=hex(newkey),
                         unused=UNUSED_ID)
            with self.subTest(name):
                args = [a.format(**names) for a in argv]
                before_ids = {int(r["semid"]) for r in proc_sysvipc("sem")}
                before = self.snapshot(semid)
                if user is None:
                    r = run_marked("sysv-sem", *args)
                else:
                    # With MARK_GID too: the sets that other tests run
                    # as nobody make meanwhile are not this case's.
                    r = run("sysv-sem", *args, user=user, group=MARK_GID)
                after_rows = proc_sysvipc("sem")
                after = self.snapshot(semid)
                # New sets that this run made: its creator gid, or one of
                # our keys. (Not "created by nobody": test_sysv_sem runs
                # as nobody at the same time, and its sets are its own.)
                made = [row for row in after_rows
                        if int(row["semid"]) not in before_ids
                        and (int(row["cgid"]) == MARK_GID
                             or int(row["key"]) & 0xFFFFFFFF in (key, newkey))]
                for row in made:
                    # Removed at once, so that the next cases do not fail
                    # for it too (and tracked, in case that fails).
                    self.track_sem(row["semid"])
                    subprocess.run(["ipcrm", "-s", row["semid"]],
                                   stderr=subprocess.DEVNULL)
                self.assertEqual(made, [], "a failed command made a set: %r" % (r,))
                self.assertIsNotNone(after, "the set was removed: %r" % (r,))
                self.assertEqual(after, before, "the set changed: %r" % (r,))
                self.assertEqual(after, baseline, "the set changed: %r" % (r,))
                self.assertEqual(self.sem_values(semid), TARGET_VALUES, r)
                self.assertEqual(r.rc, status, r)
                err = self.assertOneErrorLine(r)
                # The shared helper's checks too.
                self.assertError(r, status)
                self.assertIn(err["code"], codes, r)
                if status == 2:
                    self.assertEqual(err["op"], "usage", r)
                else:
                    self.assertNotEqual(err["op"], "usage", r)
        # The target is the one set this test made: it is removed in
        # cleanup, and no set with either key is left.
        self.assertEqual(rows_with_key(newkey), [])


class BadInputTest(BadInputHarness):

    def test_table_is_big_enough_and_unique(self):
        self.assertGreaterEqual(len(BAD_CASES), 30)
        names = [case[0] for case in BAD_CASES]
        self.assertEqual(len(names), len(set(names)))

    def test_bad_input_table(self):
        self.run_table(BAD_CASES)


if __name__ == "__main__":
    unittest.main(verbosity=2)
