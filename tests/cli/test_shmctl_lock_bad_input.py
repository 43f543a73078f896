"""Bad input to shmctl-lock: every malformed or refused invocation in
BAD_CASES must print exactly one JSON error line on stderr and nothing on
stdout, exit with the documented status and errno code, and change nothing:
the bytes of every segment the test made (the target's header, bitmap,
semaphores, owner records and `since` times, and the corrupt copies) stay as
they were, `info` and `status` print the same before and after, and no new
segment or file appears. The table runs against both backends: POSIX shm
objects ("/ipctk-test-<random>") and files in a temporary directory.

Run: IPCTK_BUILD_DIR=build /usr/bin/python3 tests/cli/test_shmctl_lock_bad_input.py
Needs root (setpriv to 'nobody').
"""

import json
import os
import struct
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ipctk_test import SANITIZED, Result  # noqa: E402
from test_shmctl_lock import (  # noqa: E402
    LOCK, LockTestCase, object_file, random_name)

# The target (placeholder {path}): root's, mode 0600, 128 locks.
#   locks 1, 2 and 3 are allocated;
#   lock 2 is held by {owner}, a live process that is neither the tool nor
#     its parent; lock 3 is stale (its owner was killed); lock 5 is held by
#     this test (the tool's parent);
#   {free} (10) is neither allocated nor locked.
# Other placeholders: {full} a 64-lock segment with every lock allocated;
# {missing} and {new} paths where nothing is; {noparent} a file path in a
# directory that does not exist; {dir} a directory; {link} a symbolic link
# to the target; {dangling} a symbolic link to {linked}, where nothing is;
# {dead} a pid that is gone; {longshm} a shm name longer than
# NAME_MAX; {longfile} a file name longer than NAME_MAX; and corrupt copies
# of a real 64-lock segment (see CORRUPTIONS).
# Options of a case: user ("nobody": run as that user), op (the error's op).
# The refusals to an unprivileged user, the symbolic links and the headers
# that claim more than the object holds are in test_security.py, which runs
# them through BadInputHarness.
USAGE = "EINVAL"
FREE_ID = 10


def _set(fmt, offset, value):
    def corrupt(data):
        data = bytearray(data)
        struct.pack_into(fmt, data, offset, value)
        return bytes(data)
    return corrupt


# Header layout: magic[8] @0, version u32 @8, header_size @12, slot_size
# @16, mutex_size @20, sem_size @24, lock_count u64 @32, bitmap_offset @40,
# slots_offset @48, total_size @56, ready u32 @64, next_free_word u64 @72,
# allocated u64 @80.
CORRUPTIONS = {
    "magic": lambda d: b"NOTMAGIC" + d[8:],
    "version": _set("<I", 8, 1),
    "slotsize": _set("<I", 16, 128),
    "truncated": lambda d: d[:len(d) // 2],
    "grown": lambda d: d + b"\0" * 4096,
    "lying": _set("<Q", 32, 1 << 20),          # offsets no longer agree
    "notmult": _set("<Q", 32, 100),
    "counters": _set("<Q", 80, 1000),          # more allocated than locks
    "short": lambda d: d[:40],                 # less than a header
    "notready": _set("<I", 64, 0),             # its creator never finished
    "garbage": lambda d: bytes((i * 7 + 3) % 251 for i in range(len(d))),
}
# "lying_size": a header that agrees with itself for 128 locks, on a
# 64-lock object (made from two real segments below).

BAD_CASES = [
    # ids
    ("lock id negative", ["lock", "--path", "{path}", "-1"], 2, USAGE),
    ("lock id junk", ["lock", "--path", "{path}", "abc"], 2, USAGE),
    ("lock id with junk after it", ["lock", "--path", "{path}", "1x"], 2, USAGE),
    ("lock id empty", ["lock", "--path", "{path}", ""], 2, USAGE),
    ("lock id hex", ["lock", "--path", "{path}", "0x1"], 2, USAGE),
    ("lock id overflowing 64 bits",
     ["lock", "--path", "{path}", "99999999999999999999"], 2, USAGE),
    ("lock id beyond any segment", ["lock", "--path", "{path}", "268435456"], 2, USAGE),
    ("lock id out of range for the segment", ["lock", "--path", "{path}", "128"], 1, "EINVAL",
     {"op": "lock"}),
    ("lock without an id", ["lock", "--path", "{path}"], 2, USAGE),
    ("lock with two ids", ["lock", "--path", "{path}", "{free}", "11"], 2, USAGE),
    ("unlock id out of range", ["unlock", "--path", "{path}", "128"], 1, "EINVAL",
     {"op": "unlock"}),
    ("unlock id negative", ["unlock", "--path", "{path}", "-2"], 2, USAGE),
    ("unlock without an id", ["unlock", "--path", "{path}"], 2, USAGE),
    ("alloc id out of range", ["alloc", "--path", "{path}", "128"], 1, "EINVAL",
     {"op": "alloc"}),
    ("alloc id negative", ["alloc", "--path", "{path}", "-5"], 2, USAGE),
    ("alloc id empty", ["alloc", "--path", "{path}", ""], 2, USAGE),
    ("alloc with two ids", ["alloc", "--path", "{path}", "20", "21"], 2, USAGE),
    ("free id out of range", ["free", "--path", "{path}", "128"], 1, "EINVAL",
     {"op": "free"}),
    ("free id junk", ["free", "--path", "{path}", "one"], 2, USAGE),
    ("free good id then junk", ["free", "--path", "{path}", "1", "x"], 2, USAGE),
    ("free good id then out of range", ["free", "--path", "{path}", "1", "128"], 1, "EINVAL"),
    ("status id out of range", ["status", "--path", "{path}", "1", "128"], 1, "EINVAL",
     {"op": "status"}),
    ("status id negative", ["status", "--path", "{path}", "-1"], 2, USAGE),
    # --locks
    ("init --locks 0", ["init", "--path", "{new}", "--locks", "0"], 2, USAGE),
    ("init --locks junk", ["init", "--path", "{new}", "--locks", "many"], 2, USAGE),
    ("init --locks negative", ["init", "--path", "{new}", "--locks", "-64"], 2, USAGE),
    ("init --locks with an exponent", ["init", "--path", "{new}", "--locks", "1e3"], 2, USAGE),
    ("init --locks too large", ["init", "--path", "{new}", "--locks", "268435457"], 2, USAGE),
    ("init --locks overflowing 64 bits",
     ["init", "--path", "{new}", "--locks", "18446744073709551616"], 2, USAGE),
    ("init --locks empty", ["init", "--path", "{new}", "--locks", ""], 2, USAGE),
    ("init --exist-ok --locks 0 on the target",
     ["init", "--path", "{path}", "--exist-ok", "--locks", "0"], 2, USAGE),
    # --mode
    ("init --mode 0800", ["init", "--path", "{new}", "--mode", "0800"], 2, USAGE),
    ("init --mode beyond 0777", ["init", "--path", "{new}", "--mode", "07777"], 2, USAGE),
    ("init --mode symbolic", ["init", "--path", "{new}", "--mode", "rw"], 2, USAGE),
    ("init --mode empty", ["init", "--path", "{new}", "--mode", ""], 2, USAGE),
    # --path
    ("info --path empty", ["info", "--path", ""], 2, USAGE),
    ("init --path empty", ["init", "--path", ""], 2, USAGE),
    ("lock --path empty", ["lock", "--path", "", "{free}"], 2, USAGE),
    ("info --path /", ["info", "--path", "/"], 2, USAGE),
    ("init --path /", ["init", "--path", "/"], 2, USAGE),
    ("info --path ending in /", ["info", "--path", "{dir}/"], 2, USAGE),
    ("info --path a directory", ["info", "--path", "{dir}"], 1, "EISDIR"),
    ("init --exist-ok --path a directory",
     ["init", "--path", "{dir}", "--exist-ok"], 1, "EISDIR"),
    ("info --path shm name too long", ["info", "--path", "{longshm}"], 2, USAGE),
    ("init --path shm name too long", ["init", "--path", "{longshm}"], 2, USAGE),
    ("info --path file name too long", ["info", "--path", "{longfile}"], 1, "ENAMETOOLONG"),
    ("init --path file name too long", ["init", "--path", "{longfile}"], 1, "ENAMETOOLONG"),
    ("init --path in a missing directory", ["init", "--path", "{noparent}"], 1, "ENOENT"),
    # a missing segment: ENOENT, and nothing is created
    ("info of a missing segment", ["info", "--path", "{missing}"], 1, "ENOENT"),
    ("status of a missing segment", ["status", "--path", "{missing}"], 1, "ENOENT"),
    ("lock on a missing segment", ["lock", "--path", "{missing}", "1"], 1, "ENOENT"),
    ("unlock on a missing segment", ["unlock", "--path", "{missing}", "1"], 1, "ENOENT"),
    ("alloc on a missing segment", ["alloc", "--path", "{missing}"], 1, "ENOENT"),
    ("free on a missing segment", ["free", "--path", "{missing}", "1"], 1, "ENOENT"),
    ("destroy of a missing segment", ["destroy", "--path", "{missing}"], 1, "ENOENT"),
    ("destroy --force of a missing segment",
     ["destroy", "--path", "{missing}", "--force"], 1, "ENOENT"),
    # corrupt segments: refused, never trusted, never changed
    ("info of a segment with a wrong magic", ["info", "--path", "{magic}"], 1, "EPROTO"),
    ("status of a segment of another version", ["status", "--path", "{version}"], 1, "EPROTO"),
    ("lock on a segment of another ABI", ["lock", "--path", "{slotsize}", "1"], 1, "EPROTO"),
    ("info of a segment longer than its header says", ["info", "--path", "{grown}"], 1, "EPROTO"),
    ("init --exist-ok on a segment with a count not a multiple of 64",
     ["init", "--path", "{notmult}", "--exist-ok"], 1, "EPROTO"),
    ("destroy without --force of a segment with bad counters",
     ["destroy", "--path", "{counters}"], 1, "EPROTO"),
    ("lock on a never-initialized segment", ["lock", "--path", "{notready}", "1"], 1, "EPROTO"),
    ("lock on garbage", ["lock", "--path", "{garbage}", "1", "--", "true"], 1, "EPROTO"),
    # --nowait, --timeout, --conflict-exit-code
    ("lock --nowait with --timeout",
     ["lock", "--path", "{path}", "{free}", "--nowait", "--timeout", "1"], 2, USAGE),
    ("lock --timeout junk", ["lock", "--path", "{path}", "{free}", "--timeout", "soon"], 2, USAGE),
    ("lock --timeout negative",
     ["lock", "--path", "{path}", "{free}", "--timeout", "-1"], 2, USAGE),
    ("lock --timeout nan", ["lock", "--path", "{path}", "{free}", "--timeout", "nan"], 2, USAGE),
    ("lock --timeout inf", ["lock", "--path", "{path}", "{free}", "--timeout", "inf"], 2, USAGE),
    ("lock --timeout empty", ["lock", "--path", "{path}", "{free}", "--timeout", ""], 2, USAGE),
    ("lock --conflict-exit-code 0",
     ["lock", "--path", "{path}", "{free}", "--conflict-exit-code", "0"], 2, USAGE),
    ("lock --conflict-exit-code 256",
     ["lock", "--path", "{path}", "{free}", "--conflict-exit-code", "256"], 2, USAGE),
    ("lock --conflict-exit-code -1",
     ["lock", "--path", "{path}", "{free}", "--conflict-exit-code", "-1"], 2, USAGE),
    ("lock --conflict-exit-code empty",
     ["lock", "--path", "{path}", "{free}", "--conflict-exit-code", ""], 2, USAGE),
    ("lock --conflict-exit-code junk on a would-block",
     ["lock", "--path", "{path}", "2", "--nowait", "--conflict-exit-code", "x"], 2, USAGE),
    # --owner-pid
    ("lock --owner-pid of a dead pid",
     ["lock", "--path", "{path}", "{free}", "--owner-pid", "{dead}"], 1, "ESRCH"),
    ("lock --owner-pid 0", ["lock", "--path", "{path}", "{free}", "--owner-pid", "0"], 2, USAGE),
    ("lock --owner-pid negative",
     ["lock", "--path", "{path}", "{free}", "--owner-pid", "-5"], 2, USAGE),
    ("lock --owner-pid junk",
     ["lock", "--path", "{path}", "{free}", "--owner-pid", "me"], 2, USAGE),
    ("lock --owner-pid empty", ["lock", "--path", "{path}", "{free}", "--owner-pid", ""], 2, USAGE),
    ("lock --owner-pid too large",
     ["lock", "--path", "{path}", "{free}", "--owner-pid", "99999999999"], 2, USAGE),
    ("lock --owner-pid with -- COMMAND",
     ["lock", "--path", "{path}", "{free}", "--owner-pid", "{owner}", "--", "true"], 2, USAGE),
    # free
    ("free --all without --yes", ["free", "--path", "{path}", "--all"], 2, USAGE),
    ("free --yes without --all or ids", ["free", "--path", "{path}", "--yes"], 2, USAGE),
    ("free of nothing", ["free", "--path", "{path}"], 2, USAGE),
    ("free ids and --all", ["free", "--path", "{path}", "1", "--all", "--yes"], 2, USAGE),
    ("free of a non-allocated id", ["free", "--path", "{path}", "{free}"], 1, "ENOENT"),
    ("free of a good id then a non-allocated one",
     ["free", "--path", "{path}", "1", "{free}"], 1, "ENOENT"),
    ("free of a non-allocated id then a good one",
     ["free", "--path", "{path}", "{free}", "2"], 1, "ENOENT"),
    ("free of an id twice", ["free", "--path", "{path}", "1", "1"], 2, USAGE),
    # unlock
    ("unlock of an unlocked lock", ["unlock", "--path", "{path}", "{free}"], 1, "EBUSY"),
    ("unlock --force of an unlocked lock",
     ["unlock", "--path", "{path}", "{free}", "--force"], 1, "EBUSY"),
    ("unlock of a live stranger's lock", ["unlock", "--path", "{path}", "2"], 1, "EPERM"),
    ("unlock of a stale lock without --force", ["unlock", "--path", "{path}", "3"], 1, "EPERM"),
    # conflicts: exit 3 (or --conflict-exit-code), nothing taken
    ("lock --nowait of a held lock", ["lock", "--path", "{path}", "2", "--nowait"], 3, "EAGAIN"),
    ("lock --nowait of a stale lock without --steal-stale",
     ["lock", "--path", "{path}", "3", "--nowait"], 3, "EAGAIN"),
    ("lock --nowait of a lock held by the caller",
     ["lock", "--path", "{path}", "5", "--nowait"], 3, "EAGAIN"),
    ("lock --timeout of a held lock",
     ["lock", "--path", "{path}", "2", "--timeout", "0.1"], 3, "ETIMEDOUT"),
    ("lock --steal-stale --timeout of a live owner's lock",
     ["lock", "--path", "{path}", "2", "--steal-stale", "--timeout", "0.25"], 3, "ETIMEDOUT"),
    ("lock --nowait with --conflict-exit-code 9",
     ["lock", "--path", "{path}", "2", "--nowait", "--conflict-exit-code", "9"], 9, "EAGAIN"),
    ("lock --nowait of a held lock -- COMMAND",
     ["lock", "--path", "{path}", "2", "--nowait", "--", "touch", "{new}"], 3, "EAGAIN"),
    # -- COMMAND
    ("lock -- COMMAND that does not exist",
     ["lock", "--path", "{path}", "{free}", "--", "/nonexistent/ipctk-no-such-command"],
     127, "ENOENT"),
    ("lock -- COMMAND not in PATH",
     ["lock", "--path", "{path}", "{free}", "--", "ipctk-no-such-command"], 127, "ENOENT"),
    ("lock -- COMMAND that is not executable",
     ["lock", "--path", "{path}", "{free}", "--", "/etc/passwd"], 126, "EACCES"),
    ("lock -- COMMAND that does not exist on a missing segment",
     ["lock", "--path", "{missing}", "1", "--", "/nonexistent/ipctk-no-such-command"],
     127, "ENOENT"),
    ("lock with nothing after --", ["lock", "--path", "{path}", "{free}", "--"], 2, USAGE),
    ("-- COMMAND on info", ["info", "--path", "{path}", "--", "true"], 2, USAGE),
    ("-- COMMAND on unlock", ["unlock", "--path", "{path}", "5", "--", "true"], 2, USAGE),
    # alloc, init, destroy refusals
    ("alloc of an allocated id", ["alloc", "--path", "{path}", "1"], 1, "EEXIST"),
    ("alloc on a full segment", ["alloc", "--path", "{full}"], 1, "ENOSPC"),
    ("init of an existing segment", ["init", "--path", "{path}"], 1, "EEXIST"),
    ("init --exist-ok with another lock count",
     ["init", "--path", "{path}", "--exist-ok", "--locks", "64"], 1, "EINVAL"),
    ("destroy with held locks", ["destroy", "--path", "{path}"], 1, "EBUSY"),
    # the command line
    ("unknown subcommand", ["frobnicate", "--path", "{path}"], 2, USAGE),
    ("unknown flag", ["status", "--path", "{path}", "--frob"], 2, USAGE),
    ("flag of another subcommand", ["info", "--path", "{path}", "--force"], 2, USAGE),
    ("info with an argument", ["info", "--path", "{path}", "5"], 2, USAGE),
    ("no subcommand", [], 2, USAGE),
    ("--path without a value", ["info", "--path"], 2, USAGE),
]


class BadInputHarness(LockTestCase):
    """Runs a table of refused invocations on one backend's fixtures and
    checks that each changed nothing (test_security.py runs its own tables
    through it too)."""

    backend = "file"  # of the decoy; each table run names its own backend

    def setUp(self):
        self._raw = []
        super().setUp()

    def _destroy_all(self):
        # The corrupt copies are files this test wrote: they go directly
        # (the tool would wait 2 s for some of them to become ready).
        for p in self._raw:
            if os.path.lexists(object_file(p)):
                os.unlink(object_file(p))
        self._raw = []
        super()._destroy_all()

    def make_fixtures(self, backend):
        """The target and every other object the table names, for one
        backend. Returns the placeholders."""
        names = {"free": str(FREE_ID)}
        path = self.new_path(backend=backend)
        self.path = path
        self.assertOk(self.lk("init", "--locks", 128, "--mode", "0600"))
        for i in (1, 2, 3):
            self.assertOk(self.lk("alloc", i))
        owner = self.sleeper()
        self.assertOk(self.lk("lock", 2, "--owner-pid", owner.pid))
        self.stale_lock(3)
        self.assertOk(self.lk("lock", 5))
        names.update(path=path, owner=str(owner.pid), dead=str(self.dead_pid()))

        full = self.new_path(backend=backend)
        self.assertOk(self.lk("init", "--locks", 64, path=full))
        for _ in range(64):
            self.assertOk(self.lk("alloc", path=full))
        names["full"] = full

        for key in ("missing", "new"):
            names[key] = self.new_path(must_not_exist=True, backend=backend)
        names["noparent"] = os.path.join(self.tmp, "no-such-dir", "locks")
        names["dir"] = os.path.join(self.tmp, "a-directory")
        os.makedirs(names["dir"], exist_ok=True)
        names["longshm"] = "/" + "a" * 300
        names["longfile"] = os.path.join(self.tmp, "b" * 300)

        # A symbolic link to the target, where the backend looks, and one
        # to a path where nothing is ({linked}, which must never appear).
        link = self.new_path(backend=backend)
        os.symlink(object_file(path), object_file(link))
        names["link"] = link
        names["linked"] = self.new_path(must_not_exist=True, backend=backend)
        dangling = self.new_path(backend=backend)
        os.symlink(object_file(names["linked"]), object_file(dangling))
        names["dangling"] = dangling

        # Corrupt copies of a real 64-lock segment (one lock allocated).
        model = self.new_path(backend=backend)
        self.assertOk(self.lk("init", "--locks", 64, path=model))
        self.assertOk(self.lk("alloc", path=model))
        with open(object_file(model), "rb") as f:
            good = f.read()
        big = self.new_path(backend=backend)
        self.assertOk(self.lk("init", "--locks", 128, path=big))
        with open(object_file(big), "rb") as f:
            header128 = f.read(128)
        self.assertOk(self.lk("destroy", path=model))
        self.assertOk(self.lk("destroy", path=big))
        corrupt = {k: fn(good) for k, fn in CORRUPTIONS.items()}
        corrupt["lying_size"] = header128[:64] + good[64:]
        for key, data in corrupt.items():
            p = self.new_path(backend=backend)
            self._raw.append(p)
            fd = os.open(object_file(p), os.O_WRONLY | os.O_CREAT | os.O_EXCL,
                         0o600)
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            names[key] = p
        return names

    def objects(self):
        """Every segment (and file) this test made, by where it lives."""
        return [object_file(p) for p, _ in self._paths
                if os.path.lexists(object_file(p))]

    def snapshot(self, names):
        """What must not change: every object's bytes (a symlink as its
        target name), the target's `info` and `status` as the tool prints
        them, the full segment's status, and which files exist in the
        temporary directory and in /dev/shm under this run's prefix."""
        data = {}
        for f in self.objects():
            if os.path.islink(f):
                data[f] = ("->", os.readlink(f))
            else:
                with open(f, "rb") as fh:
                    data[f] = fh.read()
        cached = getattr(self, "_views_of", None)
        if SANITIZED and cached is not None and cached[0] == data:
            # A sanitizer build's tool costs ~70 ms of CPU a run, and these
            # four runs per case were most of this test there. What they
            # print is a function of these very bytes (and of owners that
            # live or stay dead throughout): the views of the same bytes
            # are taken once. The plain build takes them after every case.
            views = cached[1]
        else:
            views = []
            for path in (names["path"], names["full"]):
                for sub in ("info", "status"):
                    r = self.lk(sub, path=path)
                    views.append((path, sub, r.rc, r.out, r.err))
            self._views_of = (data, views)
        prefix = random_name().rsplit("-", 1)[0]
        listing = sorted(os.listdir(self.tmp)) + sorted(
            n for n in os.listdir("/dev/shm") if n.startswith(prefix))
        tree = sorted(os.path.join(d, n) for d, dirs, files in os.walk(self.tmp)
                      for n in dirs + files)
        return data, views, listing, tree

    def run_table(self, backend, cases):
        names = self.make_fixtures(backend)
        baseline = last = self.snapshot(names)
        for case in cases:
            name, argv, status, codes = case[:4]
            options = dict(case[4]) if len(case) > 4 else {}
            user = options.pop("user", None)
            want_op = options.pop("op", None)
            if isinstance(codes, str):
                codes = (codes,)
            if last != baseline:
                # An earlier case changed something (and failed for it):
                # start the next one from fresh objects, so that each
                # failure is reported once.
                self._end_procs()
                self._destroy_all()
                self._paths = [(self.decoy, True)]
                self._procs = []
                names = self.make_fixtures(backend)
                baseline = self.snapshot(names)
                last = baseline
            with self.subTest(backend=backend, case=name):
                args = [a.format(**names) for a in argv]
                before = last
                if user is None:
                    r = self.run_args(args)
                else:
                    r = self.run_args(args, user=user)
                after = last = self.snapshot(names)
                made = [p for p in (names["missing"], names["new"],
                                    names["noparent"], names["linked"],
                                    self.decoy)
                        if os.path.lexists(object_file(p))]
                for p in made:
                    # Removed at once, so that later cases do not fail for it.
                    subprocess.run([LOCK, "destroy", "--force", "--path", p],
                                   env=self.env, capture_output=True)
                    if os.path.lexists(object_file(p)):
                        os.unlink(object_file(p))
                self.assertEqual(made, [], "a failed command made a segment: %r" % (r,))
                self.assertEqual(after[2:], before[2:],
                                 "files appeared or vanished: %r" % (r,))
                self.assertEqual(after[1], before[1],
                                 "info/status changed: %r" % (r,))
                self.assertEqual(sorted(after[0]), sorted(before[0]), r)
                for f in before[0]:
                    self.assertTrue(after[0][f] == before[0][f],
                                    "the bytes of %s changed: %r" % (f, r))
                self.assertEqual(after, baseline, r)
                self.assertEqual(r.rc, status, r)
                err = self.assertOneErrorLine(r)
                self.assertError(r, status)
                self.assertIn(err["code"], codes, r)
                if want_op is not None:
                    self.assertEqual(err["op"], want_op, r)
                if status == 2:
                    self.assertEqual(err["op"], "usage", r)
                else:
                    self.assertNotEqual(err["op"], "usage", r)

    def run_args(self, args, user=None):
        """The tool with exactly these arguments (no --path added)."""
        argv = [LOCK] + args
        if user is not None:
            argv = ["setpriv", "--reuid=" + user, "--regid=nogroup",
                    "--clear-groups", "--"] + argv
        with subprocess.Popen(argv, stdin=subprocess.DEVNULL,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              env=self.env) as proc:
            try:
                out, err = proc.communicate(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.communicate()
                raise
            return Result(argv, proc.pid, proc.returncode, out, err)



class BadInputTest(BadInputHarness):

    def test_table_is_big_enough_and_unique(self):
        self.assertGreaterEqual(len(BAD_CASES), 30)
        names = [case[0] for case in BAD_CASES]
        self.assertEqual(len(names), len(set(names)))

    def test_bad_input_table_shm(self):
        self.run_table("shm", BAD_CASES)

    def test_bad_input_table_file(self):
        self.run_table("file", BAD_CASES)


if __name__ == "__main__":
    unittest.main(verbosity=2)
