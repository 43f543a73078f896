"""Shared helpers for the CLI tests: run a built tool, parse its JSON, and
remove every IPC object a test made, even when the test fails.

The tests run the binaries from IPCTK_BUILD_DIR (set by meson).
"""

import errno
import json
import os
import pwd
import random
import signal
import subprocess
import unittest

BUILD_DIR = os.environ.get("IPCTK_BUILD_DIR", os.path.join(
    os.path.dirname(__file__), "..", "..", "build"))


def _sanitized():
    """Whether the tools under test are a sanitizer build: IPCTK_SANITIZED
    (meson's test setup in such a build sets it), else the build's own
    options (a test file run by hand)."""
    if os.environ.get("IPCTK_SANITIZED"):
        return os.environ["IPCTK_SANITIZED"] != "0"
    try:
        with open(os.path.join(BUILD_DIR, "meson-info",
                               "intro-buildoptions.json")) as f:
            options = json.load(f)
    except (OSError, ValueError):
        return False
    return any(o["name"] == "b_sanitize" and o["value"] not in ("none", [])
               for o in options)


# A sanitizer build's tool takes about twenty times as long to run (70 ms
# of CPU rather than 3, mostly the sanitizer runtime's start-up and its
# leak check at exit), so tests that start the tools hundreds of times run
# fewer rounds there, and time bounds on throughput are widened (those of
# timeouts are not).
SANITIZED = _sanitized()
SLOWDOWN = 5.0 if SANITIZED else 1.0


def user_name(uid):
    """The name of a uid, or its number, as ipcs(1) shows an owner."""
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)


def tool_path(name):
    return os.path.join(BUILD_DIR, name)


class Result:
    """What one invocation did: exit status, stdout, stderr, and both parsed."""

    def __init__(self, argv, pid, rc, out, err):
        self.argv = argv
        self.pid = pid  # the tool's own pid (setpriv execs it)
        self.rc = rc
        self.out = out
        self.err = err
        self.json = None
        self.error = None
        text = self.out.decode("utf-8", "replace").strip()
        if text:
            try:
                self.json = json.loads(text)
            except ValueError:
                self.json = None
        errtext = self.err.decode("utf-8", "replace").strip()
        if errtext:
            try:
                self.error = json.loads(errtext.splitlines()[-1])["error"]
            except (ValueError, KeyError, TypeError):
                self.error = None

    def __repr__(self):
        return "Result(argv=%r, rc=%r, out=%r, err=%r)" % (
            self.argv, self.rc, self.out[:400], self.err[:400])


def run(tool, *args, input=None, timeout=30, env=None, user=None,
        group="nogroup"):
    """Runs a built tool (or, with user='nobody', as that user and `group`
    via setpriv)."""
    argv = [tool_path(tool)] + [str(a) for a in args]
    if user is not None:
        argv = ["setpriv", "--reuid=" + user, "--regid=" + str(group),
                "--clear-groups", "--"] + argv
    stdin = subprocess.DEVNULL if input is None else subprocess.PIPE
    with subprocess.Popen(argv, stdin=stdin, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, env=env) as proc:
        try:
            out, err = proc.communicate(input, timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()
            raise
        return Result(argv, proc.pid, proc.returncode, out, err)


def proc_sysvipc(kind):
    """Rows of /proc/sysvipc/<kind> as dicts of header name -> text."""
    with open("/proc/sysvipc/" + kind) as f:
        lines = f.read().splitlines()
    header = lines[0].split()
    return [dict(zip(header, line.split())) for line in lines[1:] if line.strip()]


def sem_row(semid):
    """The /proc/sysvipc/sem row of `semid` (every column), or None."""
    for row in proc_sysvipc("sem"):
        if int(row["semid"]) == semid:
            return row
    return None


def fresh_sem_key():
    """A key that no semaphore set has right now (callers still create
    with --excl)."""
    for _ in range(100):
        key = unique_key()
        if not any(int(r["key"]) & 0xFFFFFFFF == key
                   for r in proc_sysvipc("sem")):
            return key
    raise AssertionError("no free key found")


def unique_key():
    """A key unlikely to be in use; callers still create with --excl."""
    return 0x7E000000 | random.randrange(1, 1 << 24)


_terminated = False


def _on_sigterm(signum, frame):
    # meson ends a test that runs out of time with SIGTERM: end the running
    # test with an error so that its cleanups still remove what it made,
    # and stop before the next one starts (IpcTestCase.setUp).
    global _terminated
    _terminated = True
    raise SystemExit(128 + signum)


signal.signal(signal.SIGTERM, _on_sigterm)


class IpcTestCase(unittest.TestCase):
    """Remembers every shm segment and semaphore set a test makes and removes
    them in cleanup, whether the test passed or not; then checks that they
    are really gone."""

    def setUp(self):
        if _terminated:
            os._exit(128 + signal.SIGTERM)
        self._shm_ids = []
        self._sem_ids = []
        self.addCleanup(self._remove_all)

    def track_shm(self, shmid):
        self._shm_ids.append(int(shmid))
        return int(shmid)

    def track_sem(self, semid):
        self._sem_ids.append(int(semid))
        return int(semid)

    def _remove_all(self):
        for shmid in self._shm_ids:
            subprocess.run(["ipcrm", "-m", str(shmid)], stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
        for semid in self._sem_ids:
            subprocess.run(["ipcrm", "-s", str(semid)], stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
        live_shm = {int(r["shmid"]) for r in proc_sysvipc("shm")
                    if int(r["nattch"]) == 0}
        live_sem = {int(r["semid"]) for r in proc_sysvipc("sem")}
        leaked = [i for i in self._shm_ids if i in live_shm]
        leaked += [i for i in self._sem_ids if i in live_sem]
        if leaked:
            raise AssertionError("IPC objects left behind: %r" % leaked)

    # -- sysv-shm conveniences -------------------------------------------
    def shm(self, *args, **kw):
        return run("sysv-shm", *args, **kw)

    def make_segment(self, size=4096, *extra):
        r = self.shm("create", "--size", size, *extra)
        self.assertEqual(r.rc, 0, r)
        return self.track_shm(r.json["id"])

    # -- sysv-sem conveniences -------------------------------------------
    def sem(self, *args, **kw):
        return run("sysv-sem", *args, **kw)

    def make_set(self, nsems=1, init=None, *extra):
        """A new private set (tracked for removal); returns its id."""
        args = ["get", "--private", "--nsems", nsems]
        if init is not None:
            args += ["--init", ",".join(str(v) for v in init)
                     if isinstance(init, (list, tuple)) else init]
        r = self.sem(*args, *extra)
        self.assertEqual(r.rc, 0, r)
        return self.track_sem(r.json["id"])

    def sem_values(self, semid):
        """The values as `ipcs -s -i` prints them (a reader no one here
        wrote), as a list of ints."""
        out = subprocess.run(["ipcs", "-s", "-i", str(semid)], check=True,
                             stdout=subprocess.PIPE, text=True).stdout
        values = []
        in_table = False
        for line in out.splitlines():
            fields = line.split()
            if fields[:2] == ["semnum", "value"]:
                in_table = True
                continue
            if in_table and len(fields) >= 5 and fields[0].isdigit():
                values.append(int(fields[1]))
        return values

    def assertOk(self, result):
        self.assertEqual(result.rc, 0, result)
        self.assertIsNotNone(result.json, result)
        self.assertEqual(result.err, b"", result)
        return result.json

    def assertOneErrorLine(self, r):
        """Exactly one line on stderr, a JSON object {"error": {...}} with
        op, errno, code, message (and optionally hint), and nothing else;
        nothing on stdout; the code is the errno's name."""
        self.assertEqual(r.out, b"", r)
        self.assertTrue(r.err.endswith(b"\n"), r)
        self.assertEqual(r.err.count(b"\n"), 1, r)
        doc = json.loads(r.err)
        self.assertEqual(list(doc), ["error"], r)
        err = doc["error"]
        self.assertLessEqual(set(err), {"op", "errno", "code", "message", "hint"}, r)
        for field in ("op", "code", "message"):
            self.assertIsInstance(err.get(field), str, r)
            self.assertTrue(err[field], r)
        self.assertIsInstance(err.get("errno"), int, r)
        if "hint" in err:
            self.assertIsInstance(err["hint"], str, r)
        self.assertEqual(errno.errorcode.get(err["errno"]), err["code"], r)
        return err

    def assertError(self, result, rc, code=None):
        """One JSON error line on stderr, nothing on stdout, exit `rc`."""
        self.assertEqual(result.rc, rc, result)
        self.assertEqual(result.out, b"", result)
        lines = result.err.decode().strip().splitlines()
        self.assertEqual(len(lines), 1, result)
        err = json.loads(lines[0])["error"]
        for field in ("op", "errno", "code", "message"):
            self.assertIn(field, err, result)
        self.assertIsInstance(err["errno"], int)
        if code is not None:
            self.assertEqual(err["code"], code, result)
        return err
