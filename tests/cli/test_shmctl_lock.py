"""CLI tests of shmctl-lock: every subcommand and flag, run as the built
binary with its JSON parsed, and the semantics that matter checked with real
processes: a lock taken in one invocation and released in another, blocking
(with the order of events measured), timeouts, -- COMMAND and the ways it
ends, stale locks after SIGKILL and their recovery, racing stealers, mutual
exclusion of shell loops around a counter in a sysv-shm segment, and the
race-free first use of the default path.

Every test runs twice: once on a POSIX shm object ("/ipctk-test-<random>")
and once on a file in a temporary directory (the file backend passes the
same tests as the shm backend).

Run: IPCTK_BUILD_DIR=build /usr/bin/python3 tests/cli/test_shmctl_lock.py
Needs root (like the other CLI tests). The malformed invocations are in
test_shmctl_lock_bad_input.py.

Safety: every invocation runs with SHMCTL_LOCK_PATH set to a unique name
that no test creates (a decoy), so that a tool that fell back to the default
path by mistake would never touch the real default /shmctl-lock; cleanup
reports the decoy if it was created.
"""

import json
import os
import secrets
import select
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ipctk_test import (  # noqa: E402
    BUILD_DIR, SANITIZED, SLOWDOWN, IpcTestCase, Result, tool_path)

LOCK = tool_path("shmctl-lock")
SHM = tool_path("sysv-shm")

# kSegmentVersion in lib/lock_segment.h.
LAYOUT_VERSION = 2
SEGMENT_FIELDS = ["path", "backend", "version", "locks", "size", "allocated",
                  "free", "held", "stale"]
LOCK_FIELDS = ["id", "path", "owner_pid", "stolen", "since", "until"]
UNLOCK_FIELDS = ["id", "path", "owner_pid", "was_stale", "forced"]
STATE_FIELDS = ["id", "allocated", "locked", "owner_pid", "owner_alive",
                "stale", "since"]
TOTALS_FIELDS = ["shown", "allocated", "held", "stale"]


def random_name():
    return "ipctk-test-%d-%s" % (os.getpid(), secrets.token_hex(6))


def object_file(path):
    """Where the segment's bytes are: /dev/shm/NAME for a shm object."""
    if path.startswith("/") and "/" not in path[1:]:
        return "/dev/shm" + path
    return path


def read_line(proc, timeout=10.0):
    """One line of a background process's stdout, or fails after timeout
    (so that a tool that hangs fails the test instead of wedging it)."""
    deadline = time.monotonic() + timeout
    data = b""
    fd = proc.stdout.fileno()
    while not data.endswith(b"\n"):
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError("no line from %r within %s s (got %r)"
                                 % (proc.args, timeout, data))
        ready, _, _ = select.select([fd], [], [], left)
        if not ready:
            continue
        chunk = os.read(fd, 1)
        if not chunk:
            raise AssertionError("%r closed its stdout (got %r)"
                                 % (proc.args, data))
        data += chunk
    return data.decode()


def children_of(pid):
    try:
        with open("/proc/%d/task/%d/children" % (pid, pid)) as f:
            return [int(p) for p in f.read().split()]
    except FileNotFoundError:
        return []


def proc_comm(pid):
    """/proc/PID/comm, or None when the process is gone."""
    try:
        with open("/proc/%d/comm" % pid) as f:
            return f.read().strip()
    except (FileNotFoundError, ProcessLookupError):
        return None


def pid_exists(pid):
    """Alive and not a zombie."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            text = f.read()
    except (FileNotFoundError, ProcessLookupError):
        return False
    return text[text.rindex(")") + 2] != "Z"


class LockTestCase(IpcTestCase):
    """Base of every shmctl-lock test: a temporary directory, a decoy
    SHMCTL_LOCK_PATH, segments that are destroyed in cleanup whatever
    happens, and background processes that are killed in cleanup.
    `backend` ("shm" or "file") is set by the concrete classes."""

    backend = None
    LOCKS = 128

    def setUp(self):
        super().setUp()
        self.tmp = tempfile.mkdtemp(prefix="ipctk-locktest-")
        os.chmod(self.tmp, 0o755)
        # Cleanups run last-in first-out: processes end first, then
        # segments are destroyed, then the directory goes.
        self.addCleanup(shutil.rmtree, self.tmp, True)
        self._paths = []
        self.addCleanup(self._destroy_all)
        self._procs = []
        self.addCleanup(self._end_procs)
        self._open_fds = set()
        self.addCleanup(self._close_fds)
        self.decoy = self.new_path(must_not_exist=True)
        self.env = dict(os.environ, SHMCTL_LOCK_PATH=self.decoy,
                        PATH=BUILD_DIR + ":" + os.environ.get("PATH", "/usr/bin:/bin"))
        self.path = self.new_path()
        self.env["P"] = self.path

    # -- paths and cleanup -------------------------------------------------
    def new_path(self, must_not_exist=False, backend=None):
        """A fresh segment path of this test's backend, destroyed in cleanup."""
        backend = backend or self.backend
        if backend == "shm":
            path = "/" + random_name()
        else:
            path = os.path.join(self.tmp, random_name())
        self._paths.append((path, must_not_exist))
        return path

    def _destroy_all(self):
        leaked = []
        for path, must_not_exist in self._paths:
            existed = os.path.lexists(object_file(path))
            if existed:
                subprocess.run([LOCK, "destroy", "--force", "--path", path],
                               env=self.env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, timeout=30)
                if os.path.lexists(object_file(path)):
                    os.unlink(object_file(path))
            if existed and must_not_exist:
                leaked.append(path)
        if leaked:
            raise AssertionError("the tool created the decoy default path: %r"
                                 % leaked)

    def spawn(self, argv, stdin=subprocess.DEVNULL, env=None, **kw):
        """A background process in its own session (killed with all it
        started in cleanup)."""
        proc = subprocess.Popen([str(a) for a in argv], stdin=stdin,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                start_new_session=True,
                                env=self.env if env is None else env, **kw)
        self._procs.append(proc)
        return proc

    def spawn_sh(self, script, env=None, **kw):
        return self.spawn(["sh", "-c", script], env=self.sh_env(env), **kw)

    def _end_procs(self):
        # Every one is killed before any is waited for, and none survives
        # into the segments' cleanup (where it could make one again).
        for proc in self._procs:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        for proc in self._procs:
            proc.wait()
            for f in (proc.stdin, proc.stdout, proc.stderr):
                if f is not None and not f.closed:
                    f.close()

    def barrier(self):
        """A pipe that processes started with stdin=barrier[0] read one
        line from ('read go') before they go; release() lets all go at
        once."""
        r, w = os.pipe()
        self._open_fds |= {r, w}
        return r, w

    def _close_fds(self):
        for fd in self._open_fds:
            os.close(fd)
        self._open_fds.clear()

    def release(self, barrier, n):
        r, w = barrier
        os.write(w, b"go\n" * n)
        for fd in (r, w):
            os.close(fd)
            self._open_fds.discard(fd)

    def wait_all(self, procs, timeout=30):
        """(stdout, stderr, rc) of each, in order."""
        results = []
        for p in procs:
            out, err = p.communicate(timeout=timeout)
            results.append((out, err, p.returncode))
        return results

    def sleeper(self):
        """A live process to name as an owner (--owner-pid)."""
        return self.spawn(["sleep", "300"])

    def dead_pid(self):
        """A pid that was a process a moment ago and is reaped now."""
        proc = subprocess.Popen(["true"])
        proc.wait()
        return proc.pid

    # -- running the tool --------------------------------------------------
    def lk(self, sub, *args, path=None, env=None, timeout=30, user=None):
        """shmctl-lock SUB --path P ARGS... (P: this test's segment)."""
        argv = [LOCK, sub, "--path", self.path if path is None else path]
        argv += [str(a) for a in args]
        if user is not None:
            argv = ["setpriv", "--reuid=" + user, "--regid=nogroup",
                    "--clear-groups", "--"] + argv
        with subprocess.Popen(argv, stdin=subprocess.DEVNULL,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              env=self.env if env is None else env) as proc:
            try:
                out, err = proc.communicate(timeout=timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.communicate()
                raise
            return Result(argv, proc.pid, proc.returncode, out, err)

    def sh_env(self, extra=None):
        env = dict(self.env, P=self.path)
        env.update(extra or {})
        return env

    def sh(self, script, env=None, timeout=60):
        """Runs a shell script with P=this test's segment and the build dir
        first in PATH; returns (rc, stdout lines, stderr)."""
        proc = subprocess.run(["sh", "-c", script], env=self.sh_env(env),
                              stdin=subprocess.DEVNULL, capture_output=True,
                              timeout=timeout)
        return proc.returncode, proc.stdout.decode().splitlines(), proc.stderr

    def init(self, locks=None, path=None, *extra):
        args = [] if locks is None else ["--locks", locks]
        doc = self.assertOk(self.lk("init", *args, *extra, path=path))
        self.assertTrue(doc["created"], doc)
        return doc

    def status(self, *args, path=None):
        return self.assertOk(self.lk("status", *args, path=path))

    def state(self, lock_id, path=None):
        doc = self.status(lock_id, path=path)
        self.assertEqual(len(doc["status"]), 1, doc)
        return doc["status"][0]

    def info(self, path=None):
        return self.assertOk(self.lk("info", path=path))

    def wait_until(self, predicate, what, timeout=10.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return
            time.sleep(0.01)
        self.fail("timed out waiting until " + what)

    def stale_lock(self, lock_id, path=None):
        """Makes lock_id stale: locked for an owner that is then killed."""
        victim = self.sleeper()
        self.assertOk(self.lk("lock", lock_id, "--owner-pid", victim.pid,
                              path=path))
        victim.kill()
        victim.wait()
        self.assertTrue(self.state(lock_id, path=path)["stale"])
        return victim.pid


# ---------------------------------------------------------------------------
# The tests, as mixins: each is turned into one TestCase per backend below.

class InitInfoDestroyTests:

    def test_init_document_matches_info_and_the_object(self):
        r = self.lk("init", "--locks", 128)
        doc = self.assertOk(r)
        self.assertEqual(list(doc), SEGMENT_FIELDS + ["created"])
        self.assertEqual(doc["path"], self.path)
        self.assertEqual(doc["backend"], self.backend)
        self.assertEqual(doc["version"], LAYOUT_VERSION)
        self.assertEqual(doc["locks"], 128)
        self.assertEqual((doc["allocated"], doc["free"], doc["held"],
                          doc["stale"]), (0, 128, 0, 0))
        self.assertTrue(doc["created"])
        st = os.stat(object_file(self.path))
        self.assertTrue(stat.S_ISREG(st.st_mode))
        self.assertEqual(doc["size"], st.st_size)
        self.assertEqual(stat.S_IMODE(st.st_mode), 0o600)
        # Every lock on its own 64-byte line, behind a header and bitmap.
        self.assertGreaterEqual(doc["size"], 128 * 64)
        self.assertEqual(doc["size"] % 64, 0)
        info = self.info()
        self.assertEqual(list(info), SEGMENT_FIELDS)
        self.assertEqual(info, {k: doc[k] for k in SEGMENT_FIELDS})

    def test_locks_are_rounded_up_to_a_multiple_of_64(self):
        header = None
        for asked, want in [(1, 64), (63, 64), (64, 64), (65, 128),
                            (100, 128), (511, 512), (513, 576), (2049, 2112)]:
            path = self.new_path()
            doc = self.init(asked, path)
            self.assertEqual(doc["locks"], want, (asked, doc))
            self.assertEqual(doc["free"], want)
            self.assertEqual(doc["size"], os.stat(object_file(path)).st_size)
            # A header, the bitmap (one 64-bit word per 64 locks) on whole
            # cache lines, and a 64-byte line per lock.
            bitmap = -(-want // 64 * 8 // 64) * 64
            if header is None:
                header = doc["size"] - bitmap - want * 64
                self.assertEqual(header % 64, 0)
            self.assertEqual(doc["size"], header + bitmap + want * 64, asked)
            st = self.status(path=path)
            self.assertEqual(st["locks"], want)
            self.assertEqual([s["id"] for s in st["status"]], list(range(want)))

    def test_default_lock_count_is_2048(self):
        doc = self.init()
        self.assertEqual(doc["locks"], 2048)
        self.assertEqual(self.info()["locks"], 2048)

    def test_mode(self):
        self.init(64, None, "--mode", "0640")
        self.assertEqual(stat.S_IMODE(os.stat(object_file(self.path)).st_mode),
                         0o640)
        path = self.new_path()
        self.init(64, path, "--mode", "644")
        self.assertEqual(stat.S_IMODE(os.stat(object_file(path)).st_mode),
                         0o644)
        # The umask does not take bits the caller asked for.
        path = self.new_path()
        rc, out, err = self.sh('umask 077; shmctl-lock init --path "$Q" '
                               '--locks 64 --mode 0666', env={"Q": path})
        self.assertEqual(rc, 0, err)
        self.assertEqual(stat.S_IMODE(os.stat(object_file(path)).st_mode),
                         0o666)

    def test_exist_ok(self):
        self.init(128)
        self.assertOk(self.lk("alloc", 9))
        # Without --exist-ok: EEXIST, and the segment is as it was.
        err = self.assertError(self.lk("init", "--locks", 128), 1, "EEXIST")
        self.assertIn("--exist-ok", err.get("hint", ""))
        self.assertEqual(self.info()["allocated"], 1)
        self.assertTrue(self.state(9)["allocated"])
        # With it: opened, not created, nothing reset.
        for extra in (["--locks", 128], ["--locks", 100], ["--locks", 65]):
            doc = self.assertOk(self.lk("init", "--exist-ok", *extra))
            self.assertFalse(doc["created"], extra)
            self.assertEqual((doc["locks"], doc["allocated"]), (128, 1), extra)
        # Another (rounded) lock count is an error.
        for count in (64, 129, 2048):
            err = self.assertError(self.lk("init", "--exist-ok", "--locks",
                                           count), 1, "EINVAL")
            self.assertIn("128", err["message"])
        self.assertEqual(self.info()["allocated"], 1)

    def test_exist_ok_without_locks_opens_any_lock_count(self):
        # No --locks: nothing explicit to disagree with; the 128-lock
        # segment is opened as it is.
        self.init(128)
        r = self.lk("init", "--exist-ok")
        doc = self.assertOk(r)
        self.assertFalse(doc["created"])
        self.assertEqual(doc["locks"], 128)

    def test_info_counts(self):
        self.init(128)
        self.assertOk(self.lk("alloc", 3))
        self.assertOk(self.lk("alloc", 100))
        self.assertOk(self.lk("lock", 3))
        self.stale_lock(50)
        info = self.info()
        self.assertEqual((info["locks"], info["allocated"], info["free"],
                          info["held"], info["stale"]), (128, 2, 126, 2, 1))
        self.assertOk(self.lk("unlock", 3))
        self.assertOk(self.lk("unlock", 50, "--force"))
        info = self.info()
        self.assertEqual((info["held"], info["stale"]), (0, 0))

    def test_destroy_is_refused_while_locks_are_held(self):
        self.init(64)
        self.assertOk(self.lk("lock", 7))
        before = self.status()
        err = self.assertError(self.lk("destroy"), 1, "EBUSY")
        self.assertIn("--force", err.get("hint", ""))
        self.assertTrue(os.path.exists(object_file(self.path)))
        self.assertEqual(self.status(), before)
        doc = self.assertOk(self.lk("destroy", "--force"))
        self.assertEqual(doc, {"path": self.path, "backend": self.backend,
                               "destroyed": True, "held": 1})
        self.assertFalse(os.path.exists(object_file(self.path)))
        # Gone: ENOENT, and nothing is created by looking.
        self.assertError(self.lk("info"), 1, "ENOENT")
        self.assertError(self.lk("destroy"), 1, "ENOENT")
        self.assertError(self.lk("destroy", "--force"), 1, "ENOENT")
        self.assertFalse(os.path.exists(object_file(self.path)))

    def test_destroy_unheld(self):
        self.init(64)
        self.assertOk(self.lk("alloc"))
        doc = self.assertOk(self.lk("destroy"))
        self.assertEqual(doc, {"path": self.path, "backend": self.backend,
                               "destroyed": True, "held": 0})
        self.assertFalse(os.path.exists(object_file(self.path)))
        # A new one can be made at the same path.
        self.assertEqual(self.init(64)["allocated"], 0)

    def test_destroy_force_removes_a_broken_segment(self):
        # A segment cut short (its magic is there, its size is wrong):
        # refused by everything, removed by destroy --force.
        self.init(64)
        with open(object_file(self.path), "r+b") as f:
            f.truncate(1000)
        self.assertError(self.lk("info"), 1, "EPROTO")
        self.assertError(self.lk("destroy"), 1, "EPROTO")
        self.assertTrue(os.path.exists(object_file(self.path)))
        doc = self.assertOk(self.lk("destroy", "--force"))
        self.assertEqual(doc, {"path": self.path, "backend": self.backend,
                               "destroyed": True, "held": None})
        self.assertFalse(os.path.exists(object_file(self.path)))

    def test_destroy_force_leaves_a_foreign_object_alone(self):
        # Something that is not a lock segment at all is not the tool's
        # to delete, --force or not.
        data = b"not a lock segment, just some bytes" * 200
        with open(object_file(self.path), "wb") as f:
            f.write(data)
        self.assertError(self.lk("info"), 1, "EPROTO")
        self.assertError(self.lk("destroy"), 1, "EPROTO")
        self.assertError(self.lk("destroy", "--force"), 1, "EPROTO")
        with open(object_file(self.path), "rb") as f:
            self.assertEqual(f.read(), data)

    def test_pretty(self):
        self.init(64)
        r = subprocess.run([LOCK, "--pretty", "info", "--path", self.path],
                           env=self.env, capture_output=True)
        self.assertEqual(r.returncode, 0, r)
        self.assertGreater(r.stdout.count(b"\n"), 3)
        self.assertEqual(json.loads(r.stdout), self.info())
        # Compact by default: one line.
        self.assertEqual(self.lk("info").out.count(b"\n"), 1)


class AllocFreeTests:

    def test_alloc_first_free_and_given_ids(self):
        self.init(128)
        doc = self.assertOk(self.lk("alloc"))
        self.assertEqual(doc, {"id": 0, "allocated": 1, "free": 127})
        self.assertEqual(self.assertOk(self.lk("alloc"))["id"], 1)
        doc = self.assertOk(self.lk("alloc", 5))
        self.assertEqual(doc, {"id": 5, "allocated": 3, "free": 125})
        self.assertEqual(self.assertOk(self.lk("alloc", 127))["id"], 127)
        self.assertEqual(self.assertOk(self.lk("alloc"))["id"], 2)
        err = self.assertError(self.lk("alloc", 5), 1, "EEXIST")
        self.assertIn("5", err["message"])
        err = self.assertError(self.lk("alloc", 128), 1, "EINVAL")
        self.assertIn("128", err["message"])
        self.assertEqual(self.info()["allocated"], 5)
        # A freed id is the first free one again.
        self.assertOk(self.lk("free", 1))
        self.assertEqual(self.assertOk(self.lk("alloc"))["id"], 1)
        self.assertEqual(self.assertOk(self.lk("alloc"))["id"], 3)
        allocated = [s["id"] for s in self.status("--allocated")["status"]]
        self.assertEqual(allocated, [0, 1, 2, 3, 5, 127])

    def test_alloc_exhaustion_is_enospc_and_allocates_nothing(self):
        self.init(64)
        ids = [self.assertOk(self.lk("alloc"))["id"] for _ in range(64)]
        self.assertEqual(ids, list(range(64)))
        err = self.assertError(self.lk("alloc"), 1, "ENOSPC")
        self.assertIn("64", err["message"])
        self.assertEqual((self.info()["allocated"], self.info()["free"]),
                         (64, 0))
        self.assertOk(self.lk("free", 10, 40))
        self.assertEqual(self.assertOk(self.lk("alloc"))["id"], 10)
        self.assertEqual(self.assertOk(self.lk("alloc"))["id"], 40)
        self.assertError(self.lk("alloc"), 1, "ENOSPC")

    def test_free_ids_and_all(self):
        self.init(128)
        for _ in range(5):
            self.assertOk(self.lk("alloc"))
        doc = self.assertOk(self.lk("free", 1, 3))
        self.assertEqual(doc, {"count": 2, "freed": [1, 3]})
        err = self.assertError(self.lk("free", 1), 1, "ENOENT")
        self.assertIn("1", err["message"])
        # A bad id among good ones frees nothing.
        self.assertError(self.lk("free", 0, 1), 1, "ENOENT")
        self.assertError(self.lk("free", 0, 200), 1, "EINVAL")
        self.assertEqual([s["id"] for s in self.status("--allocated")["status"]],
                         [0, 2, 4])
        # --all needs --yes.
        self.assertError(self.lk("free", "--all"), 2, "EINVAL")
        self.assertEqual(self.info()["allocated"], 3)
        doc = self.assertOk(self.lk("free", "--all", "--yes"))
        self.assertEqual(doc, {"count": 3, "all": True})
        self.assertEqual(self.status("--allocated")["status"], [])
        self.assertEqual(self.info()["allocated"], 0)
        doc = self.assertOk(self.lk("free", "--all", "--yes"))
        self.assertEqual(doc["count"], 0)
        self.assertEqual(self.assertOk(self.lk("alloc"))["id"], 0)

    def test_free_leaves_the_lock_alone_and_lock_works_unallocated(self):
        self.init(64)
        self.assertOk(self.lk("alloc", 7))
        self.assertOk(self.lk("lock", 7))
        self.assertOk(self.lk("free", 7))
        s = self.state(7)
        self.assertEqual((s["allocated"], s["locked"], s["owner_pid"]),
                         (False, True, os.getpid()))
        self.assertOk(self.lk("unlock", 7))
        # Still usable after free, and lock needs no allocation.
        self.assertOk(self.lk("lock", 7))
        self.assertOk(self.lk("unlock", 7))
        self.assertOk(self.lk("lock", 33))
        self.assertEqual(self.state(33)["allocated"], False)
        self.assertOk(self.lk("unlock", 33))


class LockUnlockTests:

    def test_lock_in_one_invocation_and_unlock_in_another(self):
        self.init(self.LOCKS)
        rc, out, err = self.sh(
            'echo $$; shmctl-lock lock 5 --path "$P"; '
            'shmctl-lock status 5 --path "$P"; shmctl-lock unlock 5 --path "$P"')
        self.assertEqual(rc, 0, err)
        self.assertEqual(err, b"")
        self.assertEqual(len(out), 4, out)
        sh_pid = int(out[0])
        locked, status, unlocked = (json.loads(line) for line in out[1:])
        self.assertEqual(list(locked), LOCK_FIELDS)
        self.assertEqual((locked["id"], locked["path"], locked["owner_pid"],
                          locked["stolen"], locked["until"]),
                         (5, self.path, sh_pid, False, "unlock"))
        self.assertLessEqual(abs(locked["since"] - time.time()), 60)
        entry = status["status"][0]
        self.assertEqual(list(entry), STATE_FIELDS)
        self.assertEqual(entry, {"id": 5, "allocated": False, "locked": True,
                                 "owner_pid": sh_pid, "owner_alive": True,
                                 "stale": False, "since": locked["since"]})
        self.assertEqual(list(unlocked), UNLOCK_FIELDS)
        self.assertEqual(unlocked, {"id": 5, "path": self.path,
                                    "owner_pid": sh_pid, "was_stale": False,
                                    "forced": False})
        s = self.state(5)
        self.assertEqual((s["locked"], s["owner_pid"], s["owner_alive"],
                          s["since"]), (False, None, None, None))

    def test_lock_held_after_the_tool_exits_until_unlock(self):
        self.init(self.LOCKS)
        t0 = int(time.time())
        doc = self.assertOk(self.lk("lock", 9))
        # The owner is the caller's process: here this test.
        self.assertEqual(doc["owner_pid"], os.getpid())
        self.assertTrue(t0 - 1 <= doc["since"] <= time.time() + 1, doc)
        for _ in range(3):
            s = self.state(9)
            self.assertEqual((s["locked"], s["owner_pid"], s["owner_alive"],
                              s["stale"]), (True, os.getpid(), True, False))
        self.assertError(self.lk("lock", 9, "--nowait"), 3, "EAGAIN")
        doc = self.assertOk(self.lk("unlock", 9))
        self.assertEqual(doc["owner_pid"], os.getpid())
        self.assertOk(self.lk("lock", 9, "--nowait"))
        self.assertOk(self.lk("unlock", 9))

    def test_owner_pid(self):
        self.init(self.LOCKS)
        owner = self.sleeper()
        doc = self.assertOk(self.lk("lock", 4, "--owner-pid", owner.pid))
        self.assertEqual(doc["owner_pid"], owner.pid)
        s = self.state(4)
        self.assertEqual((s["owner_pid"], s["owner_alive"], s["stale"]),
                         (owner.pid, True, False))
        owner.kill()
        owner.wait()
        s = self.state(4)
        self.assertEqual((s["locked"], s["owner_pid"], s["owner_alive"],
                          s["stale"]), (True, owner.pid, False, True))
        self.assertOk(self.lk("unlock", 4, "--force"))

    def test_unlock_of_an_unlocked_lock_is_ebusy(self):
        self.init(self.LOCKS)
        err = self.assertError(self.lk("unlock", 6), 1, "EBUSY")
        self.assertIn("6", err["message"])
        self.assertError(self.lk("unlock", 6, "--force"), 1, "EBUSY")
        self.assertOk(self.lk("lock", 6))
        self.assertOk(self.lk("unlock", 6))
        self.assertError(self.lk("unlock", 6), 1, "EBUSY")
        self.assertEqual(self.state(6)["locked"], False)

    def test_unlock_of_a_live_strangers_lock_needs_force(self):
        self.init(self.LOCKS)
        owner = self.sleeper()
        self.assertOk(self.lk("lock", 8, "--owner-pid", owner.pid))
        err = self.assertError(self.lk("unlock", 8), 1, "EPERM")
        self.assertIn(str(owner.pid), err["message"])
        self.assertIn("--force", err.get("hint", ""))
        self.assertEqual(self.state(8)["owner_pid"], owner.pid)
        # From a shell that is not the owner either.
        rc, out, err = self.sh('shmctl-lock unlock 8 --path "$P"')
        self.assertEqual(rc, 1, err)
        self.assertEqual(json.loads(err)["error"]["code"], "EPERM")
        self.assertTrue(self.state(8)["locked"])
        doc = self.assertOk(self.lk("unlock", 8, "--force"))
        self.assertEqual(doc, {"id": 8, "path": self.path,
                               "owner_pid": owner.pid, "was_stale": False,
                               "forced": True})
        self.assertFalse(self.state(8)["locked"])
        self.assertTrue(pid_exists(owner.pid))

    def test_unlock_by_the_owner_itself(self):
        # The owner may be the caller itself, not only its parent.
        self.init(self.LOCKS)
        rc, out, err = self.sh(
            'shmctl-lock lock 12 --path "$P" --owner-pid $$ >/dev/null && '
            'exec shmctl-lock unlock 12 --path "$P"')
        self.assertEqual(rc, 0, err)
        self.assertEqual(json.loads(out[0])["forced"], False)


class StatusTests:

    def test_status_filters_and_totals(self):
        self.init(128)
        for i in (1, 2, 3):
            self.assertOk(self.lk("alloc", i))
        self.assertOk(self.lk("lock", 2))
        self.assertOk(self.lk("lock", 70))
        stale_owner = self.stale_lock(3)
        self.stale_lock(90)

        doc = self.status()
        self.assertEqual(list(doc), ["path", "backend", "locks", "status",
                                     "totals"])
        self.assertEqual((doc["path"], doc["backend"], doc["locks"]),
                         (self.path, self.backend, 128))
        self.assertEqual([s["id"] for s in doc["status"]], list(range(128)))
        self.assertEqual(list(doc["totals"]), TOTALS_FIELDS)
        self.assertEqual(doc["totals"], {"shown": 128, "allocated": 3,
                                         "held": 4, "stale": 2})
        by_id = {s["id"]: s for s in doc["status"]}
        self.assertEqual(by_id[0], {"id": 0, "allocated": False,
                                    "locked": False, "owner_pid": None,
                                    "owner_alive": None, "stale": False,
                                    "since": None})
        self.assertEqual((by_id[3]["allocated"], by_id[3]["locked"],
                          by_id[3]["owner_pid"], by_id[3]["owner_alive"],
                          by_id[3]["stale"]),
                         (True, True, stale_owner, False, True))
        self.assertIsInstance(by_id[3]["since"], int)

        def shown(*args):
            d = self.status(*args)
            return [s["id"] for s in d["status"]], d["totals"]

        ids, totals = shown("--held")
        self.assertEqual(ids, [2, 3, 70, 90])
        self.assertEqual(totals, {"shown": 4, "allocated": 3, "held": 4,
                                  "stale": 2})
        self.assertEqual(shown("--stale")[0], [3, 90])
        self.assertEqual(shown("--allocated")[0], [1, 2, 3])
        # Filters combine: all must hold.
        self.assertEqual(shown("--held", "--allocated")[0], [2, 3])
        self.assertEqual(shown("--stale", "--allocated")[0], [3])
        self.assertEqual(shown("--stale", "--held", "--allocated")[0], [3])
        # Chosen ids, in the order given; totals over them.
        ids, totals = shown(90, 0, 2)
        self.assertEqual(ids, [90, 0, 2])
        self.assertEqual(totals, {"shown": 3, "allocated": 1, "held": 2,
                                  "stale": 1})
        ids, totals = shown(90, 0, 2, "--stale")
        self.assertEqual(ids, [90])
        self.assertEqual(totals["shown"], 1)
        # Out of range: an error, not a partial document.
        self.assertError(self.lk("status", 1, 128), 1, "EINVAL")

    def test_status_of_a_million_locks_streams(self):
        path = self.new_path()
        self.init(1 << 20, path)
        self.assertOk(self.lk("lock", 1000000, path=path))
        # Timed with its output going to a file (a pipe would time the
        # reader as well).
        out_path = os.path.join(self.tmp, "status.json")
        with open(out_path, "wb") as out:
            start = time.monotonic()
            r = subprocess.run([LOCK, "status", "--path", path], env=self.env,
                               stdout=out, stderr=subprocess.PIPE, timeout=60)
            elapsed = time.monotonic() - start
        self.assertEqual((r.returncode, r.stderr), (0, b""))
        self.assertLess(elapsed, 1.5 * SLOWDOWN,
                        "status of 1M locks took %.2f s" % elapsed)
        with open(out_path, "rb") as f:
            doc = json.loads(f.read())
        self.assertEqual(len(doc["status"]), 1 << 20)
        self.assertEqual(doc["totals"], {"shown": 1 << 20, "allocated": 0,
                                         "held": 1, "stale": 0})
        self.assertTrue(doc["status"][1000000]["locked"])
        held = self.status("--held", path=path)
        self.assertEqual([s["id"] for s in held["status"]], [1000000])
        self.assertOk(self.lk("unlock", 1000000, path=path))


class BlockingTests:

    def test_second_lock_waits_for_the_first_unlock(self):
        self.init(self.LOCKS)
        log = os.path.join(self.tmp, "events")

        def event(name):
            with open(log, "a") as f:
                f.write("%s %d\n" % (name, time.time_ns()))

        self.assertOk(self.lk("lock", 5))
        event("first-locked")
        waiter = self.spawn_sh(
            'echo "second-waiting $(date +%s%N)" >> "$LOG"; '
            'shmctl-lock lock 5 --path "$P" >/dev/null || exit 9; '
            'echo "second-locked $(date +%s%N)" >> "$LOG"; '
            'shmctl-lock unlock 5 --path "$P" >/dev/null || exit 10; '
            'echo "second-unlocked $(date +%s%N)" >> "$LOG"',
            env={"LOG": log})
        def logged():
            with open(log) as f:
                return f.read()

        self.wait_until(lambda: "second-waiting" in logged(),
                        "the second locker started")
        time.sleep(0.5)
        self.assertIsNone(waiter.poll(), "the second lock did not wait")
        with open(log) as f:
            self.assertNotIn("second-locked", f.read())
        event("first-unlocking")
        self.assertOk(self.lk("unlock", 5))
        event("first-unlocked")
        out, err = waiter.communicate(timeout=10)
        self.assertEqual(waiter.returncode, 0, err)
        with open(log) as f:
            events = [line.split() for line in f.read().splitlines()]
        names = [name for name, _ in events]
        times = {name: int(t) for name, t in events}
        self.assertEqual(set(names), {"first-locked", "second-waiting",
                                      "first-unlocking", "first-unlocked",
                                      "second-locked", "second-unlocked"})
        # Measured order: the second locker got it only after the first
        # began to unlock, and it waited at least the 0.5 s it was kept.
        self.assertLess(times["first-locked"], times["second-waiting"])
        self.assertLess(times["second-waiting"], times["first-unlocking"])
        self.assertLess(times["first-unlocking"], times["second-locked"])
        self.assertLess(times["second-locked"], times["second-unlocked"])
        self.assertGreaterEqual(times["second-locked"] - times["second-waiting"],
                                500_000_000)
        # And it did not sleep long after the unlock (it was woken).
        self.assertLess(times["second-locked"] - times["first-unlocking"],
                        2_000_000_000)
        self.assertFalse(self.state(5)["locked"])

    def test_timeout_exits_3_within_bounds(self):
        self.init(self.LOCKS)
        self.assertOk(self.lk("lock", 2))
        start = time.monotonic()
        r = self.lk("lock", 2, "--timeout", "0.3")
        elapsed = time.monotonic() - start
        err = self.assertError(r, 3, "ETIMEDOUT")
        self.assertIn(str(os.getpid()), err["message"])
        self.assertGreaterEqual(elapsed, 0.3)
        self.assertLess(elapsed, 2.0)
        self.assertEqual(self.state(2)["owner_pid"], os.getpid())
        # A free lock is taken at once with --timeout.
        self.assertOk(self.lk("lock", 3, "--timeout", "0.3"))
        # --timeout 0 is a try.
        start = time.monotonic()
        self.assertError(self.lk("lock", 2, "--timeout", "0"), 3)
        self.assertLess(time.monotonic() - start, 1.0)
        self.assertOk(self.lk("unlock", 2))
        self.assertOk(self.lk("unlock", 3))

    def test_nowait_and_conflict_exit_code(self):
        self.init(self.LOCKS)
        self.assertOk(self.lk("lock", 2))
        start = time.monotonic()
        err = self.assertError(self.lk("lock", 2, "--nowait"), 3, "EAGAIN")
        self.assertLess(time.monotonic() - start, 1.0)
        self.assertIn(str(os.getpid()), err["message"])
        self.assertError(self.lk("lock", 2, "--nowait",
                                 "--conflict-exit-code", 42), 42, "EAGAIN")
        self.assertError(self.lk("lock", 2, "--timeout", "0.1",
                                 "--conflict-exit-code", 255), 255, "ETIMEDOUT")
        self.assertError(self.lk("lock", 2, "--nowait",
                                 "--conflict-exit-code", 1), 1, "EAGAIN")
        # Not a conflict: the code does not apply.
        self.assertOk(self.lk("lock", 4, "--nowait", "--conflict-exit-code", 42))
        self.assertError(self.lk("unlock", 5), 1, "EBUSY")
        self.assertEqual(self.state(2)["owner_pid"], os.getpid())
        self.assertOk(self.lk("unlock", 2))
        self.assertOk(self.lk("unlock", 4))


class CommandTests:

    def run_command_lock(self, *command):
        r = self.lk("lock", 2, "--", *command)
        lines = r.out.decode().splitlines()
        self.assertGreaterEqual(len(lines), 1, r)
        doc = json.loads(lines[0])
        self.assertEqual(list(doc), LOCK_FIELDS)
        self.assertEqual((doc["id"], doc["until"], doc["stolen"]),
                         (2, "command", False))
        return r, doc, lines[1:]

    def test_command_status_returned_and_lock_released(self):
        self.init(self.LOCKS)
        # The tool becomes the command (exec): the lock is held by that
        # process, which status shows alive, while it runs.
        r, doc, rest = self.run_command_lock(
            "sh", "-c", 'shmctl-lock status 2 --path "$P"; echo $$',
            )
        self.assertEqual(r.rc, 0, r)
        self.assertEqual(r.err, b"")
        self.assertEqual(doc["owner_pid"], r.pid)
        during = json.loads(rest[0])["status"][0]
        self.assertEqual((during["locked"], during["owner_pid"],
                          during["owner_alive"], during["stale"]),
                         (True, r.pid, True, False))
        self.assertEqual(int(rest[1]), r.pid)
        self.assertFalse(self.state(2)["locked"])
        # A failing command: its status, and the lock is free.
        r, doc, rest = self.run_command_lock("sh", "-c", "exit 7")
        self.assertEqual(r.rc, 7, r)
        self.assertFalse(self.state(2)["locked"])
        r, doc, rest = self.run_command_lock("false")
        self.assertEqual(r.rc, 1, r)
        self.assertFalse(self.state(2)["locked"])
        # Killed by a signal: the caller sees it killed (a shell says
        # 128 + N), and the lock is free, not stale.
        r, doc, rest = self.run_command_lock("sh", "-c", "kill -KILL $$")
        self.assertEqual(r.rc, -signal.SIGKILL, r)
        s = self.state(2)
        self.assertEqual((s["locked"], s["stale"], s["owner_pid"]),
                         (False, False, None))
        self.assertOk(self.lk("lock", 2, "--nowait"))
        self.assertOk(self.lk("unlock", 2))
        # Through a shell, as a script sees it.
        sh = subprocess.run(
            ["sh", "-c", '"$0" lock 2 --path "$1" -- sh -c "kill -TERM \\$\\$"'
             '; echo "status $?"', LOCK, self.path],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30)
        self.assertEqual(sh.stdout.decode().splitlines()[-1],
                         "status %d" % (128 + signal.SIGTERM), sh)
        self.assertFalse(self.state(2)["locked"])

    def test_command_waits_for_the_lock(self):
        self.init(self.LOCKS)
        self.assertOk(self.lk("lock", 2))
        tool = self.spawn([LOCK, "lock", "--path", self.path, 2, "--",
                           "echo", "ran"])
        time.sleep(0.3)
        self.assertIsNone(tool.poll(), "the command did not wait for the lock")
        self.assertOk(self.lk("unlock", 2))
        out, err = tool.communicate(timeout=10)
        self.assertEqual(tool.returncode, 0, err)
        self.assertEqual(out.decode().splitlines()[1], "ran")
        self.assertFalse(self.state(2)["locked"])
        # And with --nowait/--timeout the command does not run at all.
        self.assertOk(self.lk("lock", 2))
        marker = os.path.join(self.tmp, "ran")
        r = self.lk("lock", 2, "--nowait", "--", "touch", marker)
        self.assertError(r, 3, "EAGAIN")
        r = self.lk("lock", 2, "--timeout", "0.2", "--", "touch", marker)
        self.assertError(r, 3, "ETIMEDOUT")
        self.assertFalse(os.path.exists(marker))
        self.assertOk(self.lk("unlock", 2))

    def start_command_holder(self, *command):
        """`lock 2 -- COMMAND` in the background, once the command runs."""
        tool = self.spawn([LOCK, "lock", "--path", self.path, 2, "--"]
                          + list(command))
        doc = json.loads(read_line(tool))
        self.assertEqual(doc["owner_pid"], tool.pid)
        self.wait_until(lambda: proc_comm(tool.pid) == command[0],
                        "the command replaced the tool")
        s = self.state(2)
        self.assertEqual((s["locked"], s["owner_pid"], s["owner_alive"]),
                         (True, tool.pid, True))
        self.assertEqual(children_of(tool.pid), [])  # no process in between
        return tool

    def test_command_killed_from_outside_releases(self):
        self.init(self.LOCKS)
        tool = self.start_command_holder("sleep", "300")
        waiter = self.spawn([LOCK, "lock", "--path", self.path, 2,
                             "--timeout", "20"])
        time.sleep(0.3)
        self.assertIsNone(waiter.poll(), "the waiter did not wait")
        os.kill(tool.pid, signal.SIGKILL)
        out, err = tool.communicate(timeout=10)
        self.assertEqual(tool.returncode, -signal.SIGKILL, err)
        # Free, not stale: the waiter gets it without --steal-stale, woken
        # by the exit (nobody unlocked).
        out, err = waiter.communicate(timeout=10)
        self.assertEqual(waiter.returncode, 0, err)
        self.assertFalse(json.loads(out)["stolen"])
        self.assertOk(self.lk("unlock", 2))
        self.assertFalse(self.state(2)["locked"])

    def test_sigterm_to_the_tool_releases_and_ends_the_command(self):
        self.init(self.LOCKS)
        tool = self.start_command_holder("sleep", "300")
        start = time.monotonic()
        tool.send_signal(signal.SIGTERM)
        out, err = tool.communicate(timeout=10)
        self.assertLess(time.monotonic() - start, 5.0)
        self.assertEqual(tool.returncode, -signal.SIGTERM, err)
        self.assertFalse(self.state(2)["locked"])
        self.assertOk(self.lk("lock", 2, "--nowait"))
        self.assertOk(self.lk("unlock", 2))

    def test_command_that_cannot_run_takes_nothing(self):
        self.init(self.LOCKS)
        r = self.lk("lock", 2, "--", "/nonexistent/ipctk-no-such-command")
        self.assertError(r, 127, "ENOENT")
        r = self.lk("lock", 2, "--", "ipctk-no-such-command-in-path")
        self.assertError(r, 127, "ENOENT")
        r = self.lk("lock", 2, "--", "/etc/passwd")
        self.assertError(r, 126, "EACCES")
        self.assertFalse(self.state(2)["locked"])


class StaleTests:

    def test_killed_holder_is_stale_and_recovered(self):
        self.init(self.LOCKS)
        holder = self.spawn_sh(
            'shmctl-lock lock 3 --path "$P" >/dev/null || exit 1; '
            'shmctl-lock lock 4 --path "$P" >/dev/null || exit 1; '
            'echo $$; sleep 300; exit 0')
        sh_pid = int(read_line(holder))
        self.assertEqual(sh_pid, holder.pid)
        for i in (3, 4):
            s = self.state(i)
            self.assertEqual((s["locked"], s["owner_pid"], s["owner_alive"],
                              s["stale"]), (True, sh_pid, True, False))
        self.assertEqual(self.status("--stale")["status"], [])
        os.killpg(holder.pid, signal.SIGKILL)
        holder.wait()
        doc = self.status("--stale")
        self.assertEqual([s["id"] for s in doc["status"]], [3, 4])
        for s in doc["status"]:
            self.assertEqual((s["locked"], s["owner_pid"], s["owner_alive"],
                              s["stale"]), (True, sh_pid, False, True))
        self.assertEqual((doc["totals"]["held"], doc["totals"]["stale"]), (2, 2))
        self.assertEqual(self.info()["stale"], 2)
        # Not released by a plain unlock, nor taken by a plain lock.
        err = self.assertError(self.lk("unlock", 3), 1, "EPERM")
        self.assertIn(str(sh_pid), err["message"])
        self.assertError(self.lk("lock", 3, "--nowait"), 3, "EAGAIN")
        self.assertError(self.lk("lock", 3, "--timeout", "0.2"), 3)
        # --steal-stale takes it over, at once.
        start = time.monotonic()
        doc = self.assertOk(self.lk("lock", 3, "--steal-stale"))
        self.assertLess(time.monotonic() - start, 2.0)
        self.assertEqual((doc["stolen"], doc["owner_pid"]), (True, os.getpid()))
        s = self.state(3)
        self.assertEqual((s["locked"], s["owner_pid"], s["stale"]),
                         (True, os.getpid(), False))
        # unlock --force recovers the other.
        doc = self.assertOk(self.lk("unlock", 4, "--force"))
        self.assertEqual(doc, {"id": 4, "path": self.path, "owner_pid": sh_pid,
                               "was_stale": True, "forced": True})
        self.assertEqual(self.status("--stale")["status"], [])
        self.assertOk(self.lk("lock", 4, "--nowait"))
        self.assertOk(self.lk("unlock", 4))
        self.assertOk(self.lk("unlock", 3))
        self.assertEqual(self.status("--held")["status"], [])

    def test_steal_stale_waits_for_a_live_owner_and_steals_when_it_dies(self):
        self.init(self.LOCKS)
        owner = self.sleeper()
        self.assertOk(self.lk("lock", 6, "--owner-pid", owner.pid))
        # Live owner: --steal-stale is an ordinary wait.
        self.assertError(self.lk("lock", 6, "--steal-stale", "--nowait"), 3)
        self.assertError(self.lk("lock", 6, "--steal-stale", "--timeout",
                                 "0.3"), 3, "ETIMEDOUT")
        stealer = self.spawn([LOCK, "lock", "--path", self.path, 6,
                              "--steal-stale", "--timeout", "10"])
        time.sleep(0.3)
        self.assertIsNone(stealer.poll())
        owner.kill()
        owner.wait()
        out, err = stealer.communicate(timeout=10)
        self.assertEqual(stealer.returncode, 0, err)
        self.assertTrue(json.loads(out)["stolen"])
        # Without anything to steal it is a plain lock.
        doc = self.assertOk(self.lk("lock", 7, "--steal-stale"))
        self.assertFalse(doc["stolen"])
        self.assertOk(self.lk("unlock", 7))
        self.assertOk(self.lk("unlock", 6))

    def test_two_stealers_one_wins(self):
        self.init(self.LOCKS)
        for round_ in range(4):
            lock_id = 10 + round_
            self.stale_lock(lock_id)
            owners = [self.sleeper(), self.sleeper()]
            gate = self.barrier()
            racers = [self.spawn_sh(
                'read go; exec shmctl-lock lock %d --path "$P" --steal-stale '
                '--timeout 0.5 --owner-pid %d' % (lock_id, o.pid),
                stdin=gate[0]) for o in owners]
            time.sleep(0.05)
            self.release(gate, len(racers))
            results = self.wait_all(racers, timeout=15)
            codes = sorted(rc for _, _, rc in results)
            self.assertEqual(codes, [0, 3], (round_, results))
            winner = [i for i, (_, _, rc) in enumerate(results) if rc == 0][0]
            out, err, _ = results[winner]
            doc = json.loads(out)
            self.assertEqual((doc["stolen"], doc["owner_pid"]),
                             (True, owners[winner].pid))
            _, lose_err, _ = results[1 - winner]
            self.assertEqual(json.loads(lose_err)["error"]["code"], "ETIMEDOUT")
            s = self.state(lock_id)
            self.assertEqual((s["locked"], s["owner_pid"], s["stale"]),
                             (True, owners[winner].pid, False))
            self.assertOk(self.lk("unlock", lock_id, "--force"))


class MutualExclusionTests:

    # Rounds per loop: 200 in a plain build. A sanitizer build's tools start
    # ten times slower, so four loops of 200 would take minutes; 25 still
    # fail without mutual exclusion, since a round's read and write are
    # then about half a second apart (tried with a lock that did nothing:
    # the count came out short in every run).
    ROUNDS = 25 if SANITIZED else 200

    LOOP = r'''
i=0
while [ $i -lt "$ROUNDS" ]; do
  shmctl-lock lock 1 --path "$P" >/dev/null || exit 11
  doc=$(sysv-shm read "$SHMID" --length 8 --encoding hex) || exit 12
  hex=${doc##*"\"data\":\""}
  hex=${hex%%"\""*}
  v=$((0x$hex + 1))
  sysv-shm write "$SHMID" --hex "$(printf %016x "$v")" >/dev/null || exit 13
  shmctl-lock unlock 1 --path "$P" >/dev/null || exit 14
  i=$((i + 1))
done
'''

    def counter(self, shmid):
        r = self.shm("read", shmid, "--length", 8, "--encoding", "hex")
        return int(self.assertOk(r)["data"], 16)

    def test_four_shell_loops_count_exactly(self):
        self.init(self.LOCKS)
        shmid = self.make_segment(8)
        self.assertEqual(self.counter(shmid), 0)
        env = {"SHMID": str(shmid), "ROUNDS": str(self.ROUNDS)}
        loops = [self.spawn_sh(self.LOOP, env=env) for _ in range(4)]
        for loop in loops:
            out, err = loop.communicate(timeout=300)
            self.assertEqual(loop.returncode, 0, err)
            self.assertEqual(err, b"")
        self.assertEqual(self.counter(shmid), 4 * self.ROUNDS)
        self.assertFalse(self.state(1)["locked"])


class DefaultPathTests:

    def test_first_use_by_8_processes_at_once(self):
        fresh = self.new_path()
        env = dict(self.env, SHMCTL_LOCK_PATH=fresh, OWNER=str(os.getpid()))
        firsts = ["info", "status --held", "alloc", "lock $((I + 100)) "
                  "--owner-pid $OWNER"] * 2
        procs = []
        gate = self.barrier()
        for i, first in enumerate(firsts):
            script = ('read go; shmctl-lock %s >/dev/null || exit 21; '
                      'shmctl-lock lock $I --owner-pid $OWNER >/dev/null '
                      '|| exit 22; shmctl-lock info' % first)
            procs.append(self.spawn(["sh", "-c", script],
                                    env=dict(env, I=str(i)), stdin=gate[0]))
        time.sleep(0.1)
        self.assertFalse(os.path.exists(object_file(fresh)))
        self.release(gate, len(procs))
        infos = []
        for out, err, rc in self.wait_all(procs):
            self.assertEqual(rc, 0, err)
            self.assertEqual(err, b"")
            infos.append(json.loads(out))
        for info in infos:
            self.assertEqual((info["path"], info["backend"], info["locks"],
                              info["size"], info["version"]),
                             (fresh, self.backend, 2048, infos[0]["size"],
                              LAYOUT_VERSION))
        self.assertEqual(os.stat(object_file(fresh)).st_size, infos[0]["size"])
        # One segment: every lock each of them took is held in it, as
        # another process sees it, and both alloc calls got distinct ids.
        doc = self.status("--held", path=fresh)
        held = [s["id"] for s in doc["status"]]
        self.assertEqual(held, list(range(8)) + [103, 107])
        self.assertTrue(all(s["owner_pid"] == os.getpid()
                            for s in doc["status"]))
        self.assertEqual([s["id"] for s in
                          self.status("--allocated", path=fresh)["status"]],
                         [0, 1])
        # Without --path, the tool reaches the same segment.
        r = subprocess.run([LOCK, "status", "--held"], env=env,
                           capture_output=True)
        self.assertEqual(r.returncode, 0, r)
        self.assertEqual(json.loads(r.stdout), doc)
        self.assertOk(self.lk("destroy", "--force", path=fresh))

    def test_env_path_is_used_by_every_subcommand(self):
        fresh = self.new_path()
        env = dict(self.env, SHMCTL_LOCK_PATH=fresh)

        def run_env(*args):
            r = subprocess.run([LOCK] + [str(a) for a in args], env=env,
                               capture_output=True)
            return Result(args, 0, r.returncode, r.stdout, r.stderr)

        doc = self.assertOk(run_env("init", "--locks", 64))
        self.assertEqual((doc["path"], doc["locks"], doc["created"]),
                         (fresh, 64, True))
        # Opened as it is: 64 locks, not re-made with the default 2048.
        self.assertEqual(self.assertOk(run_env("info"))["locks"], 64)
        self.assertEqual(self.assertOk(run_env("alloc"))["id"], 0)
        self.assertEqual(self.assertOk(run_env("lock", 3))["path"], fresh)
        st = self.assertOk(run_env("status", 3))
        self.assertEqual(st["locks"], 64)
        self.assertTrue(st["status"][0]["locked"])
        self.assertOk(run_env("unlock", 3))
        self.assertOk(run_env("free", 0))
        self.assertEqual(self.assertOk(run_env("destroy"))["path"], fresh)
        self.assertFalse(os.path.exists(object_file(fresh)))


MIXINS = [InitInfoDestroyTests, AllocFreeTests, LockUnlockTests, StatusTests,
          BlockingTests, CommandTests, StaleTests, MutualExclusionTests,
          DefaultPathTests]

for _mixin in MIXINS:
    for _backend in ("shm", "file"):
        _name = _mixin.__name__.replace("Tests", "") + _backend.capitalize() + "Test"
        globals()[_name] = type(_name, (_mixin, LockTestCase),
                                {"backend": _backend})
del _mixin, _backend, _name


if __name__ == "__main__":
    unittest.main(verbosity=2)
