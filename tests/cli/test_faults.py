"""Fault injection across the three tools, table by table:

- Signals: SIGINT, SIGTERM and SIGHUP to a waiting `shmctl-lock lock`, a
  waiting `sysv-sem P`/`op` (with and without undo, with and without a
  command) and a held `sysv-shm attach` end them with 128 + N, and nothing
  is acquired or leaked: the lock is still its first holder's alone (no
  waiter left counted, free after that holder unlocks), the semaphore
  values, last pids and otime are unchanged and a V/P sequence shows no
  hidden adjustment, nattch is back to its old value.
- Removal under waiters: `sysv-sem rm` wakes every kind of waiter with
  EIDRM; `sysv-shm rm` of an attached segment only marks it (dest), it stays
  usable by id and by its attachers, and it vanishes at the last detach;
  `shmctl-lock destroy` is refused under a holder, and with --force leaves
  a waiter on the old segment, as documented.
- Resource exhaustion, in a private IPC namespace (unshare --ipc) with the
  limits lowered: shmmni, shmall, shmmax, semmni, semmns and semmsl each
  give a clear error naming that limit, its value and the `info` field
  that shows it, and create nothing; a lock segment that does not fit its
  tmpfs (unshare --mount) fails with ENOSPC, leaves no file and does not
  die of SIGBUS.
- Output faults: for a subcommand of every kind of every tool, stdout
  closed, /dev/full, and a pipe without a reader (SIGPIPE default and
  ignored) never end with status 0: an error on stderr and status 1, or
  SIGPIPE quietly; what the command did is taken back or reported as
  done, as ipctk(7) OUTPUT FAULTS says. Streams cut part way (a reader
  that quits, a file system that fills up) end the same way.

Run: IPCTK_BUILD_DIR=build /usr/bin/python3 tests/cli/test_faults.py
Needs root (unshare, mount, setpriv) and python3-sysv-ipc.
"""

import json
import os
import signal
import struct
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ipctk_test import (  # noqa: E402
    fresh_sem_key, proc_sysvipc, sem_row, tool_path, unique_key)
from test_shmctl_lock import (  # noqa: E402
    LOCK, LockTestCase, children_of, object_file, proc_comm, read_line)

try:
    import sysv_ipc
except ImportError:  # the tests that need it say so when they fail
    sysv_ipc = None

SHM = tool_path("sysv-shm")
SEM = tool_path("sysv-sem")
PYTHON = "/usr/bin/python3"

SIGNALS = [signal.SIGINT, signal.SIGTERM, signal.SIGHUP]


def default_signals():
    """preexec_fn: the signals sent here get their default action in the
    child, even when this test runs where they are ignored (a background
    job of a shell ignores SIGINT and SIGQUIT, and its children inherit
    that; sysv-sem and shmctl-lock keep an ignored signal ignored)."""
    for sig in SIGNALS + [signal.SIGQUIT]:
        signal.signal(sig, signal.SIG_DFL)

# Header: slots_offset u64 @48; a slot is 64 bytes, its waiter count a u32
# @16 (lib/lock_segment.h).
SLOTS_OFFSET_AT = 48
SLOT_SIZE = 64
WAITERS_AT = 16


def slot_waiters(path, lock_id):
    """The number of processes counted as waiting for a lock, read from
    the segment's bytes."""
    with open(object_file(path), "rb") as f:
        f.seek(SLOTS_OFFSET_AT)
        slots = struct.unpack("<Q", f.read(8))[0]
        f.seek(slots + SLOT_SIZE * lock_id + WAITERS_AT)
        return struct.unpack("<I", f.read(4))[0]


def shm_row(shmid):
    for row in proc_sysvipc("shm"):
        if int(row["shmid"]) == shmid:
            return row
    return None


def shm_rows_with_key(key):
    return [r for r in proc_sysvipc("shm")
            if int(r["key"]) & 0xFFFFFFFF == key]


def sem_rows_with_key(key):
    return [r for r in proc_sysvipc("sem")
            if int(r["key"]) & 0xFFFFFFFF == key]


def fresh_shm_key():
    for _ in range(100):
        key = unique_key()
        if not shm_rows_with_key(key):
            return key
    raise AssertionError("no free key found")


def segment_bytes(shmid, length=None):
    if sysv_ipc is None:
        raise AssertionError("python3-sysv-ipc is needed")
    mem = sysv_ipc.attach(shmid, flags=sysv_ipc.SHM_RDONLY)
    try:
        return mem.read(length) if length is not None else mem.read()
    finally:
        mem.detach()


def mounted(where):
    """Whether anything is mounted at `where` in this mount namespace."""
    with open("/proc/self/mountinfo") as f:
        return any(line.split()[4] == where for line in f)


# Runs inside unshare: a list of steps, each a dict, and prints a list of
# results as JSON. Steps: {"write": [path, text]} (a sysctl), {"mount":
# [dir, size]} (a tmpfs), {"run": argv, "env": {...}, "umask": N, "user":
# NAME} (rc, out, err), {"ls": dir}, {"stat": path} (mode, uid, or None).
NAMESPACE_DRIVER = r"""
import json, os, subprocess, sys
results = []
def umask(mask):
    return None if mask is None else (lambda: os.umask(mask))
for step in json.loads(sys.argv[1]):
    if "write" in step:
        path, text = step["write"]
        with open(path, "w") as f:
            f.write(text)
        results.append(None)
    elif "mount" in step:
        where, size = step["mount"]
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=" + size,
                        "ipctk-test", where], check=True)
        results.append(None)
    elif "run" in step:
        env = dict(os.environ)
        for k, v in step.get("env", {}).items():
            if v is None:
                env.pop(k, None)
            else:
                env[k] = v
        argv = step["run"]
        if step.get("user"):
            argv = ["setpriv", "--reuid=" + step["user"], "--regid=nogroup",
                    "--clear-groups", "--"] + argv
        p = subprocess.run(argv, stdin=subprocess.DEVNULL,
                           capture_output=True, env=env, timeout=60,
                           preexec_fn=umask(step.get("umask")))
        results.append({"rc": p.returncode, "out": p.stdout.decode(),
                        "err": p.stderr.decode()})
    elif "ls" in step:
        results.append(sorted(os.listdir(step["ls"])))
    elif "stat" in step:
        try:
            st = os.lstat(step["stat"])
            results.append({"mode": st.st_mode & 0o7777, "uid": st.st_uid})
        except FileNotFoundError:
            results.append(None)
    elif "read" in step:
        with open(step["read"], "rb") as f:
            results.append(f.read().hex())
print(json.dumps(results))
"""


class FaultTestCase(LockTestCase):
    """LockTestCase (temporary directory, decoy SHMCTL_LOCK_PATH, segments
    and processes cleaned up) for every tool's faults."""

    backend = "shm"

    def error_of(self, err, code=None):
        """The one JSON error line of `err` (bytes)."""
        lines = err.decode().strip().splitlines()
        self.assertEqual(len(lines), 1, err)
        doc = json.loads(lines[0])
        self.assertEqual(list(doc), ["error"], err)
        e = doc["error"]
        for field in ("op", "errno", "code", "message"):
            self.assertIn(field, e, err)
        if code is not None:
            self.assertEqual(e["code"], code, err)
        return e

    def assert_ended_by(self, waiter, sig):
        """Sends `sig` to a waiting tool: it ends with 128 + N, prints
        nothing on stdout, and says EINTR with the signal's name."""
        waiter.send_signal(sig)
        out, err = waiter.communicate(timeout=10)
        self.assertEqual(waiter.returncode, 128 + sig, err)
        self.assertEqual(out, b"")
        e = self.error_of(err, "EINTR")
        self.assertIn(sig.name, e["message"])

    def in_namespace(self, flags, steps):
        """Runs `steps` (see NAMESPACE_DRIVER) in new namespaces."""
        p = subprocess.run(["unshare"] + flags + [PYTHON, "-c",
                                                   NAMESPACE_DRIVER,
                                                   json.dumps(steps)],
                           capture_output=True, timeout=300)
        self.assertEqual(p.returncode, 0, p)
        return json.loads(p.stdout)

    def remove_by_key(self, kind, key):
        """Cleanup: removes what has `key` (a command under test may have
        made it; "-M" for a segment, "-S" for a set)."""
        subprocess.run(["ipcrm", kind, hex(key)], stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)

    def sem_state(self, semid):
        """Values, waiters and last pids of each semaphore, and otime."""
        doc = self.assertOk(run_tool(SEM, "stat", semid))
        return doc["semaphores"], doc["otime"]


def run_tool(tool, *args, env=None):
    from ipctk_test import Result
    argv = [tool] + [str(a) for a in args]
    p = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True,
                       env=env, timeout=60)
    return Result(argv, 0, p.returncode, p.stdout, p.stderr)


# ---------------------------------------------------------------------------
# Signals

# (name, extra flags of `lock`, a command after --, or None)
LOCK_WAITS = [
    ("lock", [], None),
    ("lock --timeout", ["--timeout", "60"], None),
    ("lock --steal-stale", ["--steal-stale"], None),
    ("lock -- COMMAND", [], ["touch", "{flag}"]),
]

# (name, argv after the tool; {id} the set, {flag} a file the command would
# make; the waiters' count it is in). The set has values [0, 1]: semaphore 0
# cannot be taken, semaphore 1 is not zero. Those without undo come first:
# see test_signal_ends_a_waiting_semop_and_applies_nothing.
SEM_WAITS = [
    ("P", ["P", "{id}"], "ncnt"),
    ("P --timeout", ["P", "{id}", "--timeout", "60"], "ncnt"),
    ("op wait-for-zero", ["op", "{id}", "1:0"], "zcnt"),
    ("P --undo -- COMMAND", ["P", "{id}", "--undo", "--", "touch", "{flag}"],
     "ncnt"),
    ("op of two SPECs with undo -- COMMAND",
     ["op", "{id}", "1:-1:undo", "0:-1:undo", "--", "touch", "{flag}"], "ncnt"),
]

# (name, flags of attach after the id)
ATTACH_HOLDS = [
    ("--hold", ["--hold", "60"]),
    ("--readonly --hold", ["--readonly", "--hold", "60"]),
    ("until stdin ends", []),
    ("-- COMMAND", ["--", "sleep", "60"]),
]


class SignalTest(FaultTestCase):

    def test_table_sizes(self):
        self.assertEqual(len(LOCK_WAITS) * 2 * len(SIGNALS), 24)
        self.assertEqual(len(SEM_WAITS) * len(SIGNALS), 15)
        self.assertEqual(len(ATTACH_HOLDS) * len(SIGNALS), 12)

    def test_signal_ends_a_waiting_lock_and_takes_nothing(self):
        for backend in ("shm", "file"):
            path = self.new_path(backend=backend)
            self.init(64, path)
            self.assertOk(self.lk("lock", 2, path=path))
            for name, extra, command in LOCK_WAITS:
                for sig in SIGNALS:
                    with self.subTest(backend=backend, wait=name,
                                      signal=sig.name):
                        flag = os.path.join(self.tmp, "ran-%s-%d" % (
                            backend, sig))
                        argv = [LOCK, "lock", "--path", path, 2] + extra
                        if command:
                            argv += ["--"] + [w.format(flag=flag)
                                              for w in command]
                        waiter = self.spawn(argv, preexec_fn=default_signals)
                        self.wait_until(lambda: slot_waiters(path, 2) == 1,
                                        "the locker waits")
                        self.assert_ended_by(waiter, sig)
                        # Nothing taken, nothing left counted, no command.
                        self.assertEqual(slot_waiters(path, 2), 0)
                        self.assertFalse(os.path.exists(flag))
                        state = self.state(2, path=path)
                        self.assertTrue(state["locked"])
                        self.assertEqual(state["owner_pid"], os.getpid())
                        self.assertError(self.lk("lock", 2, "--nowait",
                                                 path=path), 3, "EAGAIN")
            self.assertEqual(self.status("--held", path=path)["totals"]["held"],
                             1)
            # Its first holder unlocks it, and it is free: no waiter got it
            # on the way out.
            self.assertOk(self.lk("unlock", 2, path=path))
            self.assertFalse(self.state(2, path=path)["locked"])
            sleeper = self.sleeper()
            self.assertOk(self.lk("lock", 2, "--nowait", "--owner-pid",
                                  sleeper.pid, path=path))
            self.assertOk(self.lk("unlock", 2, "--force", path=path))

    def test_signal_ends_a_waiting_semop_and_applies_nothing(self):
        r = run_tool(SEM, "get", "--private", "--nsems", 2, "--init", "0,1")
        semid = self.track_sem(self.assertOk(r)["id"])
        before = self.sem_state(semid)
        # otime is in seconds: one stamped within the second the set was
        # made would go unseen.
        while time.time() < before[1] + 1:
            time.sleep(0.05)
        for name, argv, counter in SEM_WAITS:
            for sig in SIGNALS:
                with self.subTest(wait=name, signal=sig.name):
                    otime = sem_row(semid)["otime"]
                    flag = os.path.join(self.tmp, "ran-%d" % sig)
                    args = [a.format(id=semid, flag=flag) for a in argv]
                    waiter = self.spawn([SEM] + args,
                                        preexec_fn=default_signals)
                    num = 1 if counter == "zcnt" else 0
                    self.wait_until(
                        lambda: self.sem_state(semid)[0][num][counter] == 1,
                        "the op waits")
                    self.assert_ended_by(waiter, sig)
                    self.assertFalse(os.path.exists(flag))
                    # Values, waiters and last pids as they were; otime
                    # too, but after a wait with undo: Linux stamps it when
                    # a process that has an undo record for the set exits
                    # (exit_sem), applied or not (sysv-sem(1), NOTES).
                    self.assertEqual(self.sem_state(semid)[0], before[0])
                    self.assertEqual(self.sem_values(semid), [0, 1])
                    if not any("undo" in a for a in argv):
                        self.assertEqual(sem_row(semid)["otime"], otime)
                        self.assertEqual(self.sem_state(semid)[1], before[1])
        # V then P, P: exactly one unit moves; no undo adjustment is left
        # over from any of the waiters.
        self.assertOk(run_tool(SEM, "V", semid))
        self.assertEqual(self.sem_values(semid), [1, 1])
        self.assertOk(run_tool(SEM, "P", semid, "--nowait"))
        self.assertEqual(self.sem_values(semid), [0, 1])
        self.assertError(run_tool(SEM, "P", semid, "--nowait"), 3, "EAGAIN")
        self.assertEqual(self.sem_values(semid), [0, 1])

    def test_signal_ends_an_attach_and_detaches(self):
        r = run_tool(SHM, "create", "--size", 8192)
        shmid = self.track_shm(self.assertOk(r)["id"])
        run_tool(SHM, "write", shmid, "--data", "kept as it is")
        content = segment_bytes(shmid)
        keeper = self.spawn([SHM, "attach", shmid, "--hold", 300],
                            preexec_fn=default_signals)
        self.assertEqual(json.loads(read_line(keeper))["nattch"], 1)
        for name, flags in ATTACH_HOLDS:
            for sig in SIGNALS:
                with self.subTest(hold=name, signal=sig.name):
                    holder = self.spawn([SHM, "attach", shmid] + flags,
                                        stdin=subprocess.PIPE,
                                        preexec_fn=default_signals)
                    doc = json.loads(read_line(holder))
                    self.assertEqual(doc["nattch"], 2)
                    if "--" in flags:
                        # The command runs: the signal is passed on to it.
                        self.wait_until(
                            lambda: any(proc_comm(c) == "sleep"
                                        for c in children_of(holder.pid)),
                            "the command runs")
                    self.assertEqual(int(shm_row(shmid)["nattch"]), 2)
                    holder.send_signal(sig)
                    out, err = holder.communicate(timeout=10)
                    self.assertEqual(holder.returncode, 128 + sig, err)
                    self.assertEqual(err, b"")
                    self.assertEqual(int(shm_row(shmid)["nattch"]), 1)
                    st = self.assertOk(run_tool(SHM, "stat", shmid))
                    self.assertEqual((st["nattch"], st["dest"]), (1, False))
        self.assertEqual(segment_bytes(shmid), content)
        keeper.send_signal(signal.SIGTERM)
        self.assertEqual(keeper.wait(timeout=10), 143)
        self.assertEqual(int(shm_row(shmid)["nattch"]), 0)


# ---------------------------------------------------------------------------
# Removal under waiters

class RemovalTest(FaultTestCase):

    def test_sem_rm_wakes_every_waiter_with_eidrm(self):
        waits = SEM_WAITS + [("P by key", ["P", "--key", "{key}"], "ncnt")]
        for name, argv, counter in waits:
            for how in ("id", "key"):
                with self.subTest(wait=name, rm_by=how):
                    key = fresh_sem_key()
                    r = run_tool(SEM, "get", "--key", hex(key), "--create",
                                 "--excl", "--nsems", 2, "--init", "0,1")
                    semid = self.track_sem(self.assertOk(r)["id"])
                    flag = os.path.join(self.tmp, "ran")
                    args = [a.format(id=semid, key=hex(key), flag=flag)
                            for a in argv]
                    waiter = self.spawn([SEM] + args)
                    num = 1 if counter == "zcnt" else 0
                    self.wait_until(
                        lambda: self.sem_state(semid)[0][num][counter] == 1,
                        "the op waits")
                    rm = (["rm", semid] if how == "id"
                          else ["rm", "--key", hex(key)])
                    doc = self.assertOk(run_tool(SEM, *rm))
                    self.assertEqual([e["id"] for e in doc["removed"]],
                                     [semid])
                    out, err = waiter.communicate(timeout=10)
                    self.assertEqual(waiter.returncode, 1, err)
                    self.assertEqual(out, b"")
                    e = self.error_of(err, "EIDRM")
                    self.assertIn("removed while waiting", e["message"])
                    self.assertFalse(os.path.exists(flag))
                    self.assertIsNone(sem_row(semid))
                    self.assertEqual(sem_rows_with_key(key), [])

    def test_shm_rm_of_an_attached_segment_is_deferred_and_usable(self):
        if sysv_ipc is None:
            self.fail("python3-sysv-ipc is needed")
        key = fresh_shm_key()
        r = run_tool(SHM, "create", "--size", 8192, "--key", hex(key),
                     "--excl")
        shmid = self.track_shm(self.assertOk(r)["id"])
        holder = self.spawn([SHM, "attach", shmid, "--hold", 300],
                            preexec_fn=default_signals)
        self.assertEqual(json.loads(read_line(holder))["nattch"], 1)
        mine = sysv_ipc.attach(shmid)
        try:
            self.assertOk(run_tool(SHM, "write", shmid, "--data", "before"))
            doc = self.assertOk(run_tool(SHM, "rm", shmid))
            entry = doc["removed"][0]
            self.assertEqual((entry["id"], entry["key"], entry["nattch"],
                              entry["deferred"]), (shmid, key, 2, True))
            # Marked for removal: keyless, dest, still attached twice.
            st = self.assertOk(run_tool(SHM, "stat", shmid))
            self.assertEqual((st["dest"], st["key"], st["nattch"]),
                             (True, 0, 2))
            row = shm_row(shmid)
            self.assertTrue(int(row["perms"], 8) & 0o1000)
            self.assertEqual(shm_rows_with_key(key), [])
            self.assertError(run_tool(SHM, "stat", "--key", hex(key)), 1,
                             "ENOENT")
            # Usable by id, and by the attachers, both ways.
            self.assertOk(run_tool(SHM, "write", shmid, "--data", "after!"))
            self.assertEqual(mine.read(6), b"after!")
            mine.write(b"third.")
            got = self.assertOk(run_tool(SHM, "read", shmid, "--length", 6,
                                         "--encoding", "utf8"))
            self.assertEqual(got["data"], "third.")
            # Another attach by id works too, for as long as it lives.
            self.assertOk(run_tool(SHM, "attach", shmid, "--hold", 0))
        finally:
            mine.detach()
        # One attachment left: it lives on.
        self.assertEqual(int(shm_row(shmid)["nattch"]), 1)
        holder.send_signal(signal.SIGTERM)
        self.assertEqual(holder.wait(timeout=10), 143)
        # The last detach: gone.
        self.assertIsNone(shm_row(shmid))
        self.assertError(run_tool(SHM, "stat", shmid), 1, "EINVAL")

    def test_lock_destroy_under_a_holder_and_a_waiter(self):
        for backend in ("shm", "file"):
            with self.subTest(backend=backend):
                path = self.new_path(backend=backend)
                self.init(64, path)
                self.assertOk(self.lk("lock", 2, path=path))
                waiter = self.spawn([LOCK, "lock", "--path", path, 2,
                                     "--timeout", 3])
                self.wait_until(lambda: slot_waiters(path, 2) == 1,
                                "the locker waits")
                # Refused while a lock is held: nothing changes.
                with open(object_file(path), "rb") as f:
                    before = f.read()
                self.assertError(self.lk("destroy", path=path), 1, "EBUSY")
                with open(object_file(path), "rb") as f:
                    self.assertTrue(f.read() == before)
                self.assertIsNone(waiter.poll())
                # --force removes the path; the waiter keeps the segment it
                # has mapped (documented) and waits on it until its timeout.
                self.assertOk(self.lk("destroy", "--force", path=path))
                self.assertFalse(os.path.lexists(object_file(path)))
                out, err = waiter.communicate(timeout=30)
                self.assertEqual(waiter.returncode, 3, err)
                self.assertEqual(out, b"")
                self.error_of(err, "ETIMEDOUT")
                # The path is free for a new segment, whose lock 2 is free.
                self.init(64, path)
                self.assertFalse(self.state(2, path=path)["locked"])


# ---------------------------------------------------------------------------
# Resource exhaustion

# (name, sysctl writes, commands that must succeed first, the command that
# hits the limit, code, the limit, its value, the tool whose info shows it,
# the usage field that counts objects)
LIMIT_CASES = [
    ("shmmni reached",
     [("kernel/shmmni", "2")],
     [["sysv-shm", "create", "--size", "4096"]] * 2,
     ["sysv-shm", "create", "--size", "4096"], "ENOSPC", "shmmni", 2,
     "sysv-shm", "segments"),
    ("shmmni reached, by key",
     [("kernel/shmmni", "2")],
     [["sysv-shm", "create", "--size", "4096"]] * 2,
     ["sysv-shm", "create", "--size", "4096", "--key", "0x5eed0001",
      "--excl"], "ENOSPC", "shmmni", 2, "sysv-shm", "segments"),
    ("shmall reached",
     [("kernel/shmall", "4")],
     [["sysv-shm", "create", "--size", "8192"]],
     ["sysv-shm", "create", "--size", "12288"], "ENOSPC", "shmall", 4,
     "sysv-shm", "segments"),
    ("size above shmmax",
     [("kernel/shmmax", "65536")],
     [["sysv-shm", "create", "--size", "65536"]],
     ["sysv-shm", "create", "--size", "65537"], "EINVAL", "shmmax", 65536,
     "sysv-shm", "segments"),
    ("semmni reached",
     [("kernel/sem", "250 32000 32 2")],
     [["sysv-sem", "get", "--private"]] * 2,
     ["sysv-sem", "get", "--private"], "ENOSPC", "semmni", 2,
     "sysv-sem", "sets"),
    ("semmni reached by get --create --init",
     [("kernel/sem", "250 32000 32 2")],
     [["sysv-sem", "get", "--private"]] * 2,
     ["sysv-sem", "get", "--key", "0x5eed0002", "--create", "--init", "1,2"],
     "ENOSPC", "semmni", 2, "sysv-sem", "sets"),
    ("semmns reached",
     [("kernel/sem", "250 4 32 128")],
     [["sysv-sem", "get", "--private", "--nsems", "3"]],
     ["sysv-sem", "get", "--private", "--nsems", "2"], "ENOSPC", "semmns", 4,
     "sysv-sem", "sets"),
    ("nsems above semmsl",
     [("kernel/sem", "5 32000 32 128")],
     [["sysv-sem", "get", "--private", "--nsems", "5"]],
     ["sysv-sem", "get", "--private", "--nsems", "6"], "EINVAL", "semmsl", 5,
     "sysv-sem", "sets"),
]


class ExhaustionTest(FaultTestCase):

    def test_kernel_limits_are_named_in_a_private_ipc_namespace(self):
        with open("/proc/sys/kernel/shmmni") as f:
            host_shmmni = f.read()
        with open("/proc/sys/kernel/sem") as f:
            host_sem = f.read()
        for case in LIMIT_CASES:
            (name, writes, setup, failing, code, limit, value, info_tool,
             counter) = case
            with self.subTest(case=name):
                steps = [{"write": ["/proc/sys/" + p, v]} for p, v in writes]
                steps += [{"run": [tool_path(a[0])] + a[1:]} for a in setup]
                info = {"run": [tool_path(info_tool), "info"]}
                steps += [info, {"run": [tool_path(failing[0])] + failing[1:]},
                          info]
                results = self.in_namespace(["--ipc"], steps)[len(writes):]
                for r in results[:len(setup)]:
                    self.assertEqual(r["rc"], 0, r)
                before, failed, after = results[len(setup):]
                self.assertEqual(failed["rc"], 1, failed)
                self.assertEqual(failed["out"], "", failed)
                e = self.error_of(failed["err"].encode(), code)
                self.assertEqual(e["op"], "shmget" if "shm" in info_tool
                                 else "semget", e)
                self.assertIn("%s limit of %d " % (limit, value),
                              e["message"])
                self.assertIn("'%s info'" % info_tool, e["hint"])
                self.assertIn("limits." + limit, e["hint"])
                # The value named is the one info shows, and the failed
                # command made nothing.
                info_after = json.loads(after["out"])
                self.assertEqual(info_after["limits"][limit], value)
                self.assertEqual(json.loads(before["out"])["usage"][counter],
                                 info_after["usage"][counter])
        # The limits were the namespace's own.
        with open("/proc/sys/kernel/shmmni") as f:
            self.assertEqual(f.read(), host_shmmni)
        with open("/proc/sys/kernel/sem") as f:
            self.assertEqual(f.read(), host_sem)

    def check_no_room(self, r, where):
        self.assertEqual(r["rc"], 1, r)  # not 135: no SIGBUS
        self.assertEqual(r["out"], "", r)
        e = self.error_of(r["err"].encode(), "ENOSPC")
        self.assertEqual(e["op"], "posix_fallocate", e)
        self.assertIn("in %s;" % where, e["hint"])
        self.assertIn("'df %s'" % where, e["hint"])
        return e

    def test_a_lock_segment_that_does_not_fit_its_file_system(self):
        mnt = os.path.join(self.tmp, "mnt")
        os.mkdir(mnt)
        big = ["init", "--locks", "1000000"]
        results = self.in_namespace(["--mount"], [
            {"mount": [mnt, "64k"]},
            {"run": [LOCK] + big + ["--path", mnt + "/seg"]},
            {"ls": mnt},
            {"run": [LOCK, "init", "--locks", "64", "--path", mnt + "/small"]},
            {"run": [LOCK] + big + ["--path", mnt + "/seg2"]},
            {"run": [LOCK, "info", "--path", mnt + "/small"]},
            {"ls": mnt},
            # The shm backend: a full /dev/shm of its own.
            {"mount": ["/dev/shm", "64k"]},
            {"run": [LOCK] + big + ["--path", "/ipctk-test-big"]},
            # The default segment (2048 locks, 131520 bytes) on first use,
            # by any subcommand.
            {"run": [LOCK, "info"], "env": {"SHMCTL_LOCK_PATH": None}},
            {"run": [LOCK, "lock", "1"], "env": {"SHMCTL_LOCK_PATH": None}},
            {"ls": "/dev/shm"},
        ])
        self.check_no_room(results[1], mnt)
        self.assertEqual(results[2], [])
        self.assertEqual(results[3]["rc"], 0, results[3])
        self.check_no_room(results[4], mnt)
        info = json.loads(results[5]["out"])
        self.assertEqual((info["locks"], info["size"]), (64, 4352))
        self.assertEqual(results[6], ["small"])
        self.check_no_room(results[8], "/dev/shm")
        e = self.check_no_room(results[9], "/dev/shm")
        self.assertIn("131520 bytes", e["hint"])
        self.check_no_room(results[10], "/dev/shm")
        self.assertEqual(results[11], [])
        # The mounts were the namespace's own.
        self.assertFalse(mounted(mnt))
        self.assertEqual(os.listdir(mnt), [])


# ---------------------------------------------------------------------------
# Output faults

# How stdout fails: (name, exit status, error code or None for a quiet end)
FAULTS = [
    ("closed", 1, "EBADF"),
    ("/dev/full", 1, "ENOSPC"),
    ("broken pipe", -signal.SIGPIPE, None),
    ("broken pipe, SIGPIPE ignored", 1, "EPIPE"),
]

# What the subject's command does when its output fails: "undo" (it is
# taken back and the hint says so), "done" (it stays done and the hint says
# so), "none" (it changes nothing: no hint).
OUTPUT_SUBJECTS = [
    ("sysv-shm create", "undo"),
    ("sysv-shm create of an existing key", "none"),
    ("sysv-shm write", "done"),
    ("sysv-shm rm", "done"),
    ("sysv-shm set", "done"),
    ("sysv-shm stat", "none"),
    ("sysv-shm list", "none"),
    ("sysv-shm read", "none"),
    ("sysv-shm read of 2 MiB (streamed JSON)", "none"),
    ("sysv-shm read --raw of 16 MiB", "none"),
    ("sysv-shm attach --hold", "undo"),
    ("sysv-shm attach -- COMMAND", "undo"),
    ("sysv-shm --version", "none"),
    ("sysv-sem get --create", "undo"),
    ("sysv-sem V", "done"),
    ("sysv-sem P --undo -- COMMAND", "done"),
    ("sysv-sem set --all", "done"),
    ("sysv-sem rm", "done"),
    ("sysv-sem stat", "none"),
    ("sysv-sem info", "none"),
    ("shmctl-lock init", "undo"),
    ("shmctl-lock init --exist-ok of an existing segment", "none"),
    ("shmctl-lock alloc", "undo"),
    ("shmctl-lock lock", "undo"),
    ("shmctl-lock lock -- COMMAND", "undo"),
    ("shmctl-lock unlock", "done"),
    ("shmctl-lock free", "done"),
    ("shmctl-lock destroy", "done"),
    ("shmctl-lock info", "none"),
    ("shmctl-lock status of a million locks (streamed)", "none"),
    ("shmctl-lock --help", "none"),
]


class OutputFaultTest(FaultTestCase):

    def setUp(self):
        super().setUp()
        self.flag = os.path.join(self.tmp, "command-ran")
        self._million = None

    def million(self):
        """A segment of 2^20 locks, made once per test (read only)."""
        if self._million is None:
            self._million = self.new_path()
            self.init(1 << 20, self._million)
            self.assertOk(self.lk("lock", 1000, path=self._million))
        return self._million

    def run_faulty(self, argv, fault, env=None):
        """Runs argv with stdout failing as `fault` says; (rc, stderr)."""
        preexec = None
        stdout = subprocess.DEVNULL
        opened = []
        if fault == "closed":
            preexec = lambda: os.close(1)  # noqa: E731
        elif fault == "/dev/full":
            stdout = open("/dev/full", "wb")
            opened.append(stdout)
        else:
            r, w = os.pipe()
            os.close(r)  # no reader, ever
            stdout = w
            opened.append(w)
            if fault == "broken pipe, SIGPIPE ignored":
                preexec = lambda: signal.signal(  # noqa: E731
                    signal.SIGPIPE, signal.SIG_IGN)
        try:
            p = subprocess.run([str(a) for a in argv],
                               stdin=subprocess.DEVNULL, stdout=stdout,
                               stderr=subprocess.PIPE, preexec_fn=preexec,
                               env=self.env if env is None else env,
                               timeout=60)
        finally:
            for f in opened:
                if isinstance(f, int):
                    os.close(f)
                else:
                    f.close()
        return p.returncode, p.stderr

    # Each subject: make what it needs, give its argv and a check of what
    # the command left, run after the fault.
    def subject(self, name):
        made = {}
        if name.startswith("sysv-shm create"):
            key = fresh_shm_key()
            self.addCleanup(self.remove_by_key, "-M", key)
            argv = [SHM, "create", "--size", 4096, "--key", hex(key), "--excl"]
            if "existing" in name:
                made["id"] = self.track_shm(self.assertOk(run_tool(
                    SHM, "create", "--size", 4096, "--key", hex(key)))["id"])
                argv = argv[:-1]

            def check():
                rows = shm_rows_with_key(key)
                for row in rows:
                    self.track_shm(row["shmid"])
                if "existing" in name:
                    self.assertEqual([int(r["shmid"]) for r in rows],
                                     [made["id"]])
                else:
                    self.assertEqual(rows, [], "the created segment is left")
            return argv, check, "removed again"
        if name.startswith("sysv-shm"):
            size = {"read of 2 MiB": 2 << 20, "read --raw": 16 << 20}
            big = [v for k, v in size.items() if k in name]
            shmid = self.track_shm(self.assertOk(run_tool(
                SHM, "create", "--size", big[0] if big else 4096))["id"])
            run_tool(SHM, "write", shmid, "--data", "content")
            before = segment_bytes(shmid, 64)
            row = {k: v for k, v in shm_row(shmid).items()
                   if k not in ("atime", "dtime", "lpid", "rss", "swap")}
            sub = name.split()[1]
            argv = {
                "write": [SHM, "write", shmid, "--data", "written"],
                "rm": [SHM, "rm", shmid],
                "set": [SHM, "set", shmid, "--mode", "0640"],
                "stat": [SHM, "stat", shmid],
                "list": [SHM, "list"],
                "read": [SHM, "read", shmid] + (["--raw"] if "raw" in name
                                                else []),
                "attach": [SHM, "attach", shmid] + (
                    ["--", "touch", self.flag] if "COMMAND" in name
                    else ["--hold", 0]),
                "--version": [SHM, "--version"],
            }[sub]

            def check():
                now = shm_row(shmid)
                if sub == "rm":
                    self.assertIsNone(now)
                    return
                self.assertEqual(int(now["nattch"]), 0)
                kept = {k: v for k, v in now.items()
                        if k not in ("atime", "dtime", "lpid", "rss", "swap")}
                if sub == "set":
                    self.assertEqual(int(kept.pop("perms"), 8), 0o640)
                    row.pop("perms")
                    kept.pop("ctime")
                    row.pop("ctime", None)
                self.assertEqual(kept, row)
                data = segment_bytes(shmid, 64)
                if sub == "write":
                    self.assertEqual(data[:7], b"written")
                else:
                    self.assertEqual(data, before)
                self.assertFalse(os.path.exists(self.flag))
            hint = {"write": "written all the same",
                    "rm": "removed all the same",
                    "set": "made all the same",
                    "attach": "detached again"}.get(sub)
            return argv, check, hint
        if name.startswith("sysv-sem"):
            key = fresh_sem_key()
            self.addCleanup(self.remove_by_key, "-S", key)
            if name == "sysv-sem get --create":
                argv = [SEM, "get", "--key", hex(key), "--create", "--excl",
                        "--init", 3]

                def check():
                    rows = sem_rows_with_key(key)
                    for row in rows:
                        self.track_sem(row["semid"])
                    self.assertEqual(rows, [], "the created set is left")
                return argv, check, "removed again"
            semid = self.track_sem(self.assertOk(run_tool(
                SEM, "get", "--key", hex(key), "--create", "--excl",
                "--init", 1))["id"])
            before = self.sem_state(semid)
            sub = name.split()[1]
            argv, after, hint = {
                "V": ([SEM, "V", semid], [2], "applied all the same"),
                "P": ([SEM, "P", semid, "--undo", "--", "touch", self.flag],
                      [1], "applied all the same"),
                "set": ([SEM, "set", semid, "--all", 5], [5],
                        "set all the same"),
                "rm": ([SEM, "rm", semid], None, "removed all the same"),
                "stat": ([SEM, "stat", semid], [1], None),
                "info": ([SEM, "info"], [1], None),
            }[sub]

            def check():
                if after is None:
                    self.assertIsNone(sem_row(semid))
                    return
                self.assertEqual(self.sem_values(semid), after)
                if after == [1]:
                    states, otime = self.sem_state(semid)
                    if sub == "P":
                        # Taken and given back by the undo at exit.
                        self.assertEqual([s["value"] for s in states], [1])
                    else:
                        self.assertEqual((states, otime), before)
                self.assertFalse(os.path.exists(self.flag))
            return argv, check, hint
        # shmctl-lock
        sub = name.split()[1]
        if sub == "init":
            path = self.new_path()
            argv = [LOCK, "init", "--path", path, "--locks", 64]
            if "existing" in name:
                self.init(64, path)
                argv.append("--exist-ok")
                with open(object_file(path), "rb") as f:
                    made["bytes"] = f.read()

            def check():
                if "existing" in name:
                    with open(object_file(path), "rb") as f:
                        self.assertTrue(f.read() == made["bytes"])
                else:
                    self.assertFalse(os.path.lexists(object_file(path)),
                                     "the created segment is left")
            return argv, check, None if "existing" in name else "removed again"
        if sub == "status" or sub == "--help":
            path = self.million()
            argv = ([LOCK, "status", "--path", path] if sub == "status"
                    else [LOCK, "--help"])
            with open(object_file(path), "rb") as f:
                f.seek(0)
                head = f.read(4096)

            def check():
                with open(object_file(path), "rb") as f:
                    self.assertTrue(f.read(4096) == head)
                self.assertTrue(self.state(1000, path=path)["locked"])
            return argv, check, None
        path = self.new_path()
        self.init(64, path)
        self.assertOk(self.lk("alloc", 1, path=path))
        self.assertOk(self.lk("lock", 5, path=path))
        before = self.status(path=path)
        argv, hint = {
            "alloc": ([LOCK, "alloc", "--path", path], "freed again"),
            "lock": ([LOCK, "lock", 3, "--path", path] + (
                ["--", "touch", self.flag] if "COMMAND" in name else []),
                "released again"),
            "unlock": ([LOCK, "unlock", 5, "--path", path],
                       "released all the same"),
            "free": ([LOCK, "free", 1, "--path", path],
                     "freed all the same"),
            "destroy": ([LOCK, "destroy", "--force", "--path", path],
                        "removed all the same"),
            "info": ([LOCK, "info", "--path", path], None),
        }[sub]

        def check():
            if sub == "destroy":
                self.assertFalse(os.path.lexists(object_file(path)))
                return
            now = self.status(path=path)
            changed = {"unlock": 5, "free": 1}.get(sub)
            for was, got in zip(before["status"], now["status"]):
                if was["id"] == changed:
                    continue
                self.assertEqual(got, was)
            if sub == "unlock":
                self.assertFalse(now["status"][5]["locked"])
            if sub == "free":
                self.assertFalse(now["status"][1]["allocated"])
            self.assertFalse(os.path.exists(self.flag))
        return argv, check, hint

    def test_table_size(self):
        self.assertEqual(len(OUTPUT_SUBJECTS) * len(FAULTS), 124)

    def test_output_faults_never_pass_for_success(self):
        for name, kind in OUTPUT_SUBJECTS:
            for fault, status, code in FAULTS:
                with self.subTest(subject=name, fault=fault):
                    argv, check, hint = self.subject(name)
                    rc, err = self.run_faulty(argv, fault)
                    self.assertEqual(rc, status, (argv, err))
                    if code is None:
                        # SIGPIPE: quiet, like any filter.
                        self.assertEqual(err, b"", argv)
                    else:
                        e = self.error_of(err, code)
                        self.assertEqual(e["op"], "write", e)
                        self.assertIn("stdout", e["message"])
                        if kind == "none":
                            self.assertNotIn("hint", e)
                        else:
                            self.assertIn(hint, e.get("hint", ""), e)
                    check()

    def test_a_reader_that_quits_part_way_ends_a_stream_quietly(self):
        r = run_tool(SHM, "create", "--size", "16M")
        shmid = self.track_shm(self.assertOk(r)["id"])
        head = os.urandom(64)
        if sysv_ipc is None:
            self.fail("python3-sysv-ipc is needed")
        mem = sysv_ipc.attach(shmid)
        mem.write(head)
        mem.detach()
        streams = [
            ("read --raw", [SHM, "read", shmid, "--raw"], head[:10]),
            ("read as JSON", [SHM, "read", shmid, "--encoding", "hex"],
             b'{"id":%d,' % shmid),
            ("status", [LOCK, "status", "--path", self.million()],
             b'{"path":'),
        ]
        for name, argv, start in streams:
            with self.subTest(stream=name):
                out = os.path.join(self.tmp, "out")
                errf = os.path.join(self.tmp, "err")
                script = ('"$@" 2>"$ERR" | head -c %d >"$OUT"; '
                          'echo "${PIPESTATUS[0]}"' % len(start))
                p = subprocess.run(["/bin/bash", "-c", script, "bash"] +
                                   [str(a) for a in argv],
                                   env=dict(self.env, OUT=out, ERR=errf),
                                   capture_output=True, timeout=60)
                self.assertEqual(p.returncode, 0, p)
                self.assertEqual(p.stdout.decode().strip(), "141")
                with open(errf, "rb") as f:
                    self.assertEqual(f.read(), b"")
                with open(out, "rb") as f:
                    self.assertEqual(f.read(), start)

    def test_a_file_system_that_fills_part_way_is_an_error(self):
        r = run_tool(SHM, "create", "--size", "16M")
        shmid = self.track_shm(self.assertOk(r)["id"])
        status = self.million()
        mnt = os.path.join(self.tmp, "mnt")
        os.mkdir(mnt)
        out = mnt + "/out"
        write_out = [PYTHON, "-c",
                     "import subprocess, sys\n"
                     "with open(sys.argv[1], 'wb') as f:\n"
                     "    p = subprocess.run(sys.argv[2:], stdout=f,"
                     " stderr=subprocess.PIPE)\n"
                     "sys.stderr.buffer.write(p.stderr)\n"
                     "sys.exit(p.returncode)", out]
        results = self.in_namespace(["--mount"], [
            {"mount": [mnt, "64k"]},
            {"run": write_out + [SHM, "read", str(shmid), "--raw"]},
            {"run": [PYTHON, "-c", "import os,sys;print(os.path.getsize("
                     "sys.argv[1]))", out]},
            {"run": write_out + [SHM, "read", str(shmid)]},
            {"run": [PYTHON, "-c", "import sys;d=open(sys.argv[1],'rb')"
                     ".read();print(len(d), d[:20])", out]},
            {"run": write_out + [LOCK, "status", "--path", status]},
            {"run": [PYTHON, "-c", "import os,sys,json\n"
                     "d=open(sys.argv[1],'rb').read()\n"
                     "try:\n json.loads(d); print('whole')\n"
                     "except ValueError: print('partial', len(d))", out]},
        ])
        for at in (1, 3, 5):
            r = results[at]
            self.assertEqual(r["rc"], 1, r)
            e = self.error_of(r["err"].encode(), "ENOSPC")
            self.assertEqual(e["op"], "write", e)
        # Part of each was written before the file system filled up.
        self.assertGreater(int(results[2]["out"]), 0)
        size, start = results[4]["out"].split(" ", 1)
        self.assertGreater(int(size), 0)
        self.assertTrue(start.startswith("b'{\"id\":%d," % shmid), results[4])
        self.assertTrue(results[6]["out"].startswith("partial"), results[6])
        self.assertFalse(mounted(mnt))


if __name__ == "__main__":
    unittest.main(verbosity=2)
