"""CLI tests of sysv-sem: every subcommand and flag, run as the built binary
with its JSON parsed, and the semantics that matter checked against the
kernel with real processes: blocking, atomicity, timeouts, undo, signals,
removal while waiting, and race-free initialization.

Run: IPCTK_BUILD_DIR=build /usr/bin/python3 tests/cli/test_sysv_sem.py
Needs root (IPC_SET of uid/gid) and Perl (core IPC::SysV).
The malformed invocations are in test_sysv_sem_bad_input.py, the cross
checks with ipcmk/ipcs/python3-sysv-ipc/Perl in test_sysv_sem_interop.py.
"""

import json
import os
import pwd
import signal
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ipctk_test import (  # noqa: E402
    fresh_sem_key as fresh_key, IpcTestCase, proc_sysvipc, sem_row, tool_path)

SEM = tool_path("sysv-sem")
NOBODY = pwd.getpwnam("nobody").pw_uid

# Every set object (get, stat, list, set) has exactly these fields, and get,
# stat and list add their own (created/values, semaphores).
SET_FIELDS = ["id", "key", "key_hex", "mode", "mode_octal", "uid", "gid",
              "cuid", "cgid", "nsems", "otime", "ctime"]
SEMAPHORE_FIELDS = ["num", "value", "ncnt", "zcnt", "pid"]


def start(*args, **kw):
    """Starts sysv-sem in the background (its own process group, so that
    it can be ended with everything it started)."""
    return subprocess.Popen([SEM] + [str(a) for a in args],
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, start_new_session=True,
                            **kw)


class SemTestCase(IpcTestCase):

    def setUp(self):
        super().setUp()
        self._procs = []
        self.addCleanup(self._end_procs)

    def background(self, *args, **kw):
        proc = start(*args, **kw)
        self._procs.append(proc)
        return proc

    def _end_procs(self):
        for proc in self._procs:
            if proc.poll() is None:
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            proc.communicate()

    def state(self, semid):
        return self.assertOk(self.sem("stat", semid))["semaphores"]

    def values(self, semid):
        return [s["value"] for s in self.state(semid)]

    def wait_until(self, predicate, what, timeout=5.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return
            time.sleep(0.01)
        self.fail("timed out waiting until " + what)

    def wait_for_waiters(self, semid, num, field, n=1):
        self.wait_until(lambda: self.state(semid)[num][field] == n,
                        "%s of semaphore %d is %d" % (field, num, n))


class GetTest(SemTestCase):

    def test_private_set_with_values(self):
        r = self.sem("get", "--private", "--nsems", 3, "--init", "1,0,2")
        doc = self.assertOk(r)
        semid = self.track_sem(doc["id"])
        self.assertEqual(list(doc), SET_FIELDS + ["created", "values"])
        self.assertEqual(doc["key"], 0)
        self.assertEqual(doc["key_hex"], "0x00000000")
        self.assertEqual(doc["nsems"], 3)
        self.assertTrue(doc["created"])
        self.assertEqual(doc["values"], [1, 0, 2])
        self.assertEqual(doc["mode_octal"], "0600")
        self.assertEqual(doc["mode"], 0o600)
        self.assertEqual(self.sem_values(semid), [1, 0, 2])
        # Created sets are marked ready: otime is set.
        self.assertNotEqual(int(sem_row(semid)["otime"]), 0)

    def test_defaults_and_spread(self):
        doc = self.assertOk(self.sem("get", "--private"))
        self.track_sem(doc["id"])
        self.assertEqual((doc["nsems"], doc["values"]), (1, [0]))
        doc = self.assertOk(self.sem("get", "--private", "--init", "4,5"))
        self.track_sem(doc["id"])
        self.assertEqual((doc["nsems"], doc["values"]), (2, [4, 5]))
        doc = self.assertOk(self.sem("get", "--private", "--nsems", 4,
                                     "--init", 7))
        self.track_sem(doc["id"])
        self.assertEqual(doc["values"], [7, 7, 7, 7])

    def test_key_create_open_excl(self):
        key = fresh_key()
        doc = self.assertOk(self.sem("get", "--key", hex(key), "--create",
                                     "--excl", "--nsems", 2, "--mode", "0640"))
        semid = self.track_sem(doc["id"])
        self.assertTrue(doc["created"])
        self.assertEqual(doc["key"], key)
        self.assertEqual(doc["key_hex"], "0x%08x" % key)
        self.assertEqual(doc["mode_octal"], "0640")
        # Open it: by key without --create, with --create, decimal key.
        for extra in ([], ["--create"], ["--nsems", 2]):
            again = self.assertOk(self.sem("get", "--key", key, *extra))
            self.assertEqual(again["id"], semid)
            self.assertFalse(again["created"])
        err = self.assertError(self.sem("get", "--key", key, "--create",
                                        "--excl"), 1, "EEXIST")
        self.assertIn("--excl", err["hint"])
        # Opening asks for no more semaphores than the set has.
        self.assertError(self.sem("get", "--key", key, "--nsems", 3), 1,
                         "EINVAL")
        self.assertError(self.sem("get", "--key", fresh_key()), 1, "ENOENT")

    def test_key_path_and_proj_id_use_ftok(self):
        with tempfile.NamedTemporaryFile() as f:
            st = os.stat(f.name)
            expected = ((ord("s") & 0xFF) << 24 | (st.st_dev & 0xFF) << 16
                        | (st.st_ino & 0xFFFF))
            doc = self.assertOk(self.sem("get", "--key-path", f.name,
                                         "--proj-id", ord("s"), "--create",
                                         "--excl"))
            self.track_sem(doc["id"])
            self.assertEqual(doc["key"], expected)
            same = self.assertOk(self.sem("stat", "--key-path", f.name,
                                          "--proj-id", ord("s")))
            self.assertEqual(same["id"], doc["id"])

    def test_concurrent_init_creates_once_and_nobody_sees_zero(self):
        # Eight processes race to create the same key; the losers open it.
        # Each prints the values it read right after get: all must be 5.
        for _ in range(5):
            key = fresh_key()
            procs = [start("get", "--key", key, "--create", "--init", 5)
                     for _ in range(8)]
            docs = []
            for p in procs:
                out, err = p.communicate(timeout=30)
                self.assertEqual(p.returncode, 0, err)
                docs.append(json.loads(out))
            ids = {d["id"] for d in docs}
            for semid in ids:
                self.track_sem(semid)
            self.assertEqual(len(ids), 1, docs)
            self.assertEqual(sum(d["created"] for d in docs), 1, docs)
            self.assertEqual([d["values"] for d in docs], [[5]] * 8)

    def test_init_waits_for_a_slow_creator(self):
        # A creator that has made the set but not yet given it values (as
        # if preempted between semget and SETALL): openers with --init must
        # wait, and then see the values, never the zeros before them.
        key = fresh_key()
        creator = subprocess.Popen(
            ["perl", "-e", """
use IPC::SysV qw(IPC_CREAT IPC_EXCL SETALL);
my $id = semget(%d, 2, IPC_CREAT | IPC_EXCL | 0600) // die "semget: $!";
print "$id\\n"; STDOUT->flush();
select(undef, undef, undef, 0.5);
semctl($id, 0, SETALL, pack("s!*", 3, 4)) or die "SETALL: $!";
semop($id, pack("s!*", 0, -1, 0, 0, 1, 0)) or die "semop: $!";
""" % key], stdout=subprocess.PIPE, text=True)
        semid = self.track_sem(int(creator.stdout.readline()))
        t0 = time.monotonic()
        openers = [start("get", "--key", key, "--create", "--init", "9,9")
                   for _ in range(3)]
        for p in openers:
            out, err = p.communicate(timeout=30)
            self.assertEqual(p.returncode, 0, err)
            doc = json.loads(out)
            self.assertEqual(doc["id"], semid)
            self.assertFalse(doc["created"])
            self.assertEqual(doc["values"], [3, 4])
        self.assertGreaterEqual(time.monotonic() - t0, 0.4)
        creator.communicate(timeout=10)
        self.assertEqual(creator.returncode, 0)

    def test_init_on_a_never_initialized_set_gives_up(self):
        # Made the way ipcmk and most programs do: semget, nothing else,
        # so its otime stays 0.
        key = fresh_key()
        made = subprocess.run(
            ["perl", "-e", "use IPC::SysV qw(IPC_CREAT IPC_EXCL); "
             "print semget(%d, 1, IPC_CREAT | IPC_EXCL | 0600) // die" % key],
            stdout=subprocess.PIPE, text=True, check=True)
        semid = self.track_sem(int(made.stdout))
        t0 = time.monotonic()
        err = self.assertError(self.sem("get", "--key", key, "--create",
                                        "--init", 1), 1, "ETIMEDOUT")
        took = time.monotonic() - t0
        self.assertGreaterEqual(took, 4.5)
        self.assertLess(took, 15)
        self.assertIn("set %d" % semid, err["message"])
        self.assertEqual(self.sem_values(semid), [0])
        # Without --init it opens at once.
        doc = self.assertOk(self.sem("get", "--key", key, "--create"))
        self.assertEqual(doc["id"], semid)


class OpTest(SemTestCase):

    def test_op_document_and_values(self):
        semid = self.make_set(3, [2, 0, 5])
        doc = self.assertOk(self.sem("op", semid, "0:-1", "1:+2",
                                     "2:-5:nowait"))
        self.assertEqual(list(doc), ["id", "operations", "values"])
        self.assertEqual(doc["id"], semid)
        self.assertEqual(doc["operations"], [
            {"num": 0, "delta": -1, "undo": False, "nowait": False},
            {"num": 1, "delta": 2, "undo": False, "nowait": False},
            {"num": 2, "delta": -5, "undo": False, "nowait": True}])
        self.assertEqual(doc["values"], [1, 2, 0])
        self.assertEqual(self.sem_values(semid), [1, 2, 0])
        # The last pid is the tool's own.
        r = self.sem("op", semid, "0:+1")
        self.assertEqual(self.state(semid)[0]["pid"], r.pid)

    def test_op_by_key_and_key_path(self):
        key = fresh_key()
        semid = self.track_sem(self.assertOk(self.sem(
            "get", "--key", key, "--create", "--excl", "--init", 1))["id"])
        doc = self.assertOk(self.sem("op", "--key", key, "0:-1"))
        self.assertEqual((doc["id"], doc["values"]), (semid, [0]))
        with tempfile.NamedTemporaryFile() as f:
            made = self.assertOk(self.sem("get", "--key-path", f.name,
                                          "--proj-id", 7, "--create", "--init", 2))
            self.track_sem(made["id"])
            doc = self.assertOk(self.sem("op", "--key-path", f.name,
                                         "--proj-id", 7, "0:-2"))
            self.assertEqual((doc["id"], doc["values"]), (made["id"], [0]))

    def test_atomic_all_or_nothing(self):
        semid = self.make_set(2, [1, 0])
        err = self.assertError(self.sem("op", semid, "0:-1:nowait",
                                        "1:-1:nowait"), 3, "EAGAIN")
        self.assertIn("nothing was applied", err["message"])
        self.assertEqual(self.sem_values(semid), [1, 0])
        # --nowait applies to every SPEC.
        self.assertError(self.sem("op", semid, "0:-1", "1:-1", "--nowait"), 3,
                         "EAGAIN")
        self.assertEqual(self.sem_values(semid), [1, 0])

    def test_conflict_exit_code(self):
        semid = self.make_set(1, [0])
        self.assertError(self.sem("op", semid, "0:-1", "--nowait",
                                  "--conflict-exit-code", 9), 9, "EAGAIN")
        self.assertError(self.sem("P", semid, "--timeout", "0.05",
                                  "--conflict-exit-code", 255), 255, "EAGAIN")
        # 0 would make a conflict look like success.
        self.assertError(self.sem("P", semid, "--nowait",
                                  "--conflict-exit-code", 0), 2, "EINVAL")
        self.assertEqual(self.sem_values(semid), [0])

    def test_wait_for_zero_blocks_until_zero(self):
        semid = self.make_set(1, [2])
        waiter = self.background("op", semid, "0:0")
        self.wait_for_waiters(semid, 0, "zcnt")
        self.assertIsNone(waiter.poll())
        self.assertOk(self.sem("P", semid))
        time.sleep(0.1)
        self.assertIsNone(waiter.poll(), "returned while the value was 1")
        self.assertOk(self.sem("P", semid))
        out, err = waiter.communicate(timeout=10)
        self.assertEqual(waiter.returncode, 0, err)
        self.assertEqual(json.loads(out)["values"], [0])
        self.assertEqual(self.state(semid)[0]["zcnt"], 0)

    def test_command_runs_after_the_op_with_its_status(self):
        semid = self.make_set(1, [1])
        r = self.sem("op", semid, "0:-1", "--", "sh", "-c",
                     "echo in-command; exit 7")
        self.assertEqual(r.rc, 7, r)
        lines = r.out.decode().splitlines()
        self.assertEqual(json.loads(lines[0])["values"], [0])
        self.assertEqual(lines[1:], ["in-command"])
        # Without undo the operation stays applied.
        self.assertEqual(self.sem_values(semid), [0])

    def test_command_that_cannot_run_applies_nothing(self):
        semid = self.make_set(1, [1])
        before = self.state(semid)
        self.assertError(self.sem("P", semid, "--undo", "--",
                                  "/nonexistent/cmd"), 127, "ENOENT")
        self.assertError(self.sem("P", semid, "--", "/etc/passwd"), 126,
                         "EACCES")
        self.assertError(self.sem("V", semid, "--", "no-such-command-here"),
                         127, "ENOENT")
        # Not even tried: the last pid is still the creator's.
        self.assertEqual(self.state(semid), before)


class PVTest(SemTestCase):

    def test_p_and_v_documents(self):
        semid = self.make_set(2, [3, 0])
        doc = self.assertOk(self.sem("P", semid))
        self.assertEqual(doc["operations"],
                         [{"num": 0, "delta": -1, "undo": False, "nowait": False}])
        self.assertEqual(doc["values"], [2, 0])
        doc = self.assertOk(self.sem("P", semid, 0, "--by", 2, "--nowait"))
        self.assertEqual(doc["operations"][0]["delta"], -2)
        self.assertTrue(doc["operations"][0]["nowait"])
        self.assertEqual(doc["values"], [0, 0])
        doc = self.assertOk(self.sem("V", semid, 1, "--by", 5))
        self.assertEqual(doc["operations"],
                         [{"num": 1, "delta": 5, "undo": False, "nowait": False}])
        self.assertEqual(doc["values"], [0, 5])
        doc = self.assertOk(self.sem("V", semid))
        self.assertEqual(doc["values"], [1, 5])

    def test_p_and_v_by_key(self):
        key = fresh_key()
        semid = self.track_sem(self.assertOk(self.sem(
            "get", "--key", key, "--create", "--excl", "--nsems", 2))["id"])
        self.assertEqual(self.assertOk(self.sem("V", "--key", key, 1))["values"],
                         [0, 1])
        self.assertEqual(self.assertOk(self.sem("P", "--key", key, 1))["values"],
                         [0, 0])
        self.assertEqual(self.assertOk(self.sem("V", "--key", key))["values"],
                         [1, 0])
        self.assertEqual(self.sem_values(semid), [1, 0])

    def test_blocking_p_counts_in_ncnt_and_waits_for_v(self):
        semid = self.make_set(1, [0])
        waiter = self.background("P", semid)
        self.wait_for_waiters(semid, 0, "ncnt")
        time.sleep(0.1)
        self.assertIsNone(waiter.poll(), "P returned on a zero semaphore")
        v = self.sem("V", semid)
        self.assertOk(v)
        out, err = waiter.communicate(timeout=10)
        self.assertEqual(waiter.returncode, 0, err)
        self.assertEqual(json.loads(out)["values"], [0])
        state = self.state(semid)[0]
        self.assertEqual((state["value"], state["ncnt"]), (0, 0))
        self.assertEqual(state["pid"], waiter.pid)

    def test_timeout(self):
        semid = self.make_set(1, [0])
        t0 = time.monotonic()
        err = self.assertError(self.sem("P", semid, "--timeout", "0.3"), 3,
                               "EAGAIN")
        took = time.monotonic() - t0
        self.assertGreaterEqual(took, 0.3)
        self.assertLess(took, 2.0)
        self.assertIn("timed out after 0.3 s", err["message"])
        self.assertEqual(self.sem_values(semid), [0])
        # A timeout long enough lets a V in.
        waiter = self.background("P", semid, "--timeout", 10)
        self.wait_for_waiters(semid, 0, "ncnt")
        self.assertOk(self.sem("V", semid))
        waiter.communicate(timeout=10)
        self.assertEqual(waiter.returncode, 0)

    def test_undo_restores_after_the_command_exits(self):
        semid = self.make_set(1, [2])
        r = self.sem("P", "--undo", semid, "--", "sleep", "0.2")
        self.assertEqual(r.rc, 0, r)
        self.assertEqual(json.loads(r.out)["values"], [1])
        self.assertEqual(self.sem_values(semid), [2])

    def test_undo_restores_after_sigkill(self):
        semid = self.make_set(1, [2])
        holder = self.background("P", "--undo", semid, "--by", 2, "--",
                                 "sleep", "30")
        self.wait_until(lambda: self.sem_values(semid) == [0],
                        "the holder took both")
        # exec: the tool's pid becomes sleep's (once the document is out),
        # and its undo record goes with it.
        def comm():
            with open("/proc/%d/comm" % holder.pid) as f:
                return f.read().strip()
        self.wait_until(lambda: comm() == "sleep", "the tool execs sleep")
        os.kill(holder.pid, signal.SIGKILL)
        holder.communicate(timeout=10)
        self.assertEqual(holder.returncode, -signal.SIGKILL)
        self.assertEqual(self.sem_values(semid), [2])

    def test_v_undo_with_command_counts_running_jobs(self):
        semid = self.make_set(1, [0])
        job = self.background("V", "--undo", semid, "--", "sleep", "0.3")
        self.wait_until(lambda: self.sem_values(semid) == [1], "the job runs")
        # `op ID 0:0` waits until every job has ended.
        t0 = time.monotonic()
        self.assertOk(self.sem("op", semid, "0:0", "--timeout", 10))
        self.assertGreater(time.monotonic() - t0, 0.05)
        job.communicate(timeout=10)
        self.assertEqual(job.returncode, 0)
        self.assertEqual(self.sem_values(semid), [0])

    def test_counting_semaphore_bounds_parallel_jobs(self):
        # At most 2 of 6 jobs run at once: each job marks itself in a
        # directory, counts the marks, and records the most it saw.
        semid = self.make_set(1, [2])
        with tempfile.TemporaryDirectory() as d:
            job = ('touch "$0/run.$$"; sleep 0.15; ls "$0" | grep -c "^run" '
                   '>> "$0/counts"; rm "$0/run.$$"')
            procs = [self.background("P", semid, "--undo", "--", "sh", "-c",
                                     job, d) for _ in range(6)]
            for p in procs:
                _, err = p.communicate(timeout=30)
                self.assertEqual(p.returncode, 0, err)
            with open(os.path.join(d, "counts")) as f:
                counts = [int(x) for x in f.read().split()]
        self.assertEqual(len(counts), 6)
        self.assertLessEqual(max(counts), 2, counts)
        self.assertEqual(self.sem_values(semid), [2])


class StatSetTest(SemTestCase):

    def test_stat_fields(self):
        semid = self.make_set(2, [4, 1])
        doc = self.assertOk(self.sem("stat", semid))
        self.assertEqual(list(doc), SET_FIELDS + ["semaphores"])
        row = sem_row(semid)
        for field in ("uid", "gid", "cuid", "cgid", "nsems", "otime", "ctime"):
            self.assertEqual(doc[field], int(row[field]), field)
        self.assertEqual(doc["mode"], int(row["perms"], 8))
        self.assertEqual([list(s) for s in doc["semaphores"]],
                         [SEMAPHORE_FIELDS] * 2)
        self.assertEqual([s["value"] for s in doc["semaphores"]], [4, 1])
        self.assertEqual([s["num"] for s in doc["semaphores"]], [0, 1])

    def test_stat_by_key_and_missing(self):
        key = fresh_key()
        semid = self.track_sem(self.assertOk(self.sem(
            "get", "--key", key, "--create", "--excl"))["id"])
        self.assertEqual(self.assertOk(self.sem("stat", "--key", key))["id"],
                         semid)
        self.assertOk(self.sem("rm", semid))
        err = self.assertError(self.sem("stat", semid), 1, "EINVAL")
        self.assertIn("does not exist", err["message"])

    def test_set_values(self):
        semid = self.make_set(3, [0, 0, 0])
        doc = self.assertOk(self.sem("set", semid, "--value", "1=5",
                                     "--value", "2=32767"))
        self.assertEqual(list(doc), SET_FIELDS + ["values"])
        self.assertEqual(doc["values"], [0, 5, 32767])
        doc = self.assertOk(self.sem("set", semid, "--all", "1,2,3"))
        self.assertEqual(doc["values"], [1, 2, 3])
        doc = self.assertOk(self.sem("set", semid, "--all", "8"))
        self.assertEqual(doc["values"], [8, 8, 8])
        self.assertEqual(self.sem_values(semid), [8, 8, 8])

    def test_set_clears_undo_records(self):
        # SETVAL clears every process's undo for that semaphore (kernel
        # rule): a holder killed afterwards gives nothing back.
        semid = self.make_set(1, [1])
        holder = self.background("P", "--undo", semid, "--", "sleep", "30")
        self.wait_until(lambda: self.sem_values(semid) == [0], "held")
        self.assertOk(self.sem("set", semid, "--value", "0=3"))
        os.kill(holder.pid, signal.SIGKILL)
        holder.communicate(timeout=10)
        self.assertEqual(self.sem_values(semid), [3])

    def test_set_mode_uid_gid(self):
        semid = self.make_set()
        doc = self.assertOk(self.sem("set", semid, "--mode", "0644"))
        self.assertEqual(list(doc), SET_FIELDS)
        self.assertEqual(doc["mode_octal"], "0644")
        doc = self.assertOk(self.sem("set", semid, "--uid", 4242, "--gid", 4343))
        self.assertEqual((doc["uid"], doc["gid"], doc["cuid"]), (4242, 4343, 0))
        row = sem_row(semid)
        self.assertEqual((row["perms"], row["uid"], row["gid"]),
                         ("644", "4242", "4343"))


class OwnerTest(SemTestCase):
    """The kernel lets an owner remove a set or change its mode without
    read permission, and lets anyone create a set with a mode that shuts
    themselves out; the tool must not stand in the way of either."""

    def test_owner_without_read_permission_can_set_mode_and_rm(self):
        for mode in ("0200", "0000"):
            r = self.sem("get", "--private", "--mode", mode, "--init", 2,
                         user="nobody")
            doc = self.assertOk(r)
            semid = self.track_sem(doc["id"])
            self.assertEqual(doc["mode_octal"], mode)
            self.assertEqual(doc["uid"], NOBODY)
            self.assertIsNone(doc["values"])  # not readable by its owner
            # Initialized all the same: root reads the values.
            self.assertEqual(self.sem_values(semid), [2])
            self.assertEqual(sem_row(semid)["perms"], mode.lstrip("0") or "0")
            doc = self.assertOk(self.sem("set", semid, "--mode", "0600",
                                         user="nobody"))
            self.assertEqual(doc["mode_octal"], "0600")
            self.assertOk(self.sem("set", semid, "--mode", mode, user="nobody"))
            doc = self.assertOk(self.sem("rm", semid, user="nobody"))
            self.assertEqual(doc["removed"][0]["id"], semid)
            self.assertIsNone(sem_row(semid))

    def test_open_needs_read_permission(self):
        key = fresh_key()
        semid = self.track_sem(self.assertOk(self.sem(
            "get", "--key", key, "--create", "--excl"))["id"])
        for extra in ([], ["--create"], ["--create", "--init", 1]):
            self.assertError(self.sem("get", "--key", key, *extra,
                                      user="nobody"), 1, "EACCES")
        self.assertOk(self.sem("set", semid, "--mode", "0644"))
        doc = self.assertOk(self.sem("get", "--key", key, user="nobody"))
        self.assertEqual((doc["id"], doc["values"]), (semid, [0]))


class RmListInfoTest(SemTestCase):

    def test_rm_ids_and_keys(self):
        a, b = self.make_set(), self.make_set(2)
        key = fresh_key()
        c = self.track_sem(self.assertOk(self.sem(
            "get", "--key", key, "--create", "--excl"))["id"])
        doc = self.assertOk(self.sem("rm", a, b, "--key", hex(key), a))
        self.assertEqual(doc["removed"], [
            {"id": a, "key": 0, "key_hex": "0x00000000", "nsems": 1},
            {"id": b, "key": 0, "key_hex": "0x00000000", "nsems": 2},
            {"id": c, "key": key, "key_hex": "0x%08x" % key, "nsems": 1}])
        for semid in (a, b, c):
            self.assertIsNone(sem_row(semid))

    def test_list(self):
        a = self.make_set(2, [1, 2])
        key = fresh_key()
        b = self.track_sem(self.assertOk(self.sem(
            "get", "--key", key, "--create", "--excl", "--init", 3))["id"])
        # Tests running in parallel make and remove sets meanwhile: the list
        # must match /proc in one of a few rounds (a wrong list never does).
        for _ in range(50):
            doc = self.assertOk(self.sem("list"))
            ids = {s["id"]: s for s in doc["sets"]}
            if set(ids) == {int(r["semid"]) for r in proc_sysvipc("sem")}:
                break
        else:
            self.fail("list never matched /proc/sysvipc/sem: %r" % sorted(ids))
        self.assertEqual(list(doc), ["count", "sets"])
        self.assertEqual(doc["count"], len(doc["sets"]))
        self.assertTrue({a, b} <= set(ids))
        for semid in (a, b):
            self.assertEqual(list(ids[semid]), SET_FIELDS)
            self.assertEqual(ids[semid],
                             {k: v for k, v in self.assertOk(
                                 self.sem("stat", semid)).items()
                              if k != "semaphores"})
        only = self.assertOk(self.sem("list", "--key", key))
        self.assertEqual([s["id"] for s in only["sets"]], [b])
        self.assertEqual(self.assertOk(self.sem("list", "--key", fresh_key())),
                         {"count": 0, "sets": []})
        with_values = self.assertOk(self.sem("list", "--values", "--key", key))
        self.assertEqual(with_values["sets"][0]["semaphores"][0]["value"], 3)
        mine = self.assertOk(self.sem("list", "--owner", 0, "--values"))
        self.assertIn(a, [s["id"] for s in mine["sets"]])
        self.assertEqual([x["value"] for s in mine["sets"] if s["id"] == a
                          for x in s["semaphores"]], [1, 2])
        self.assertNotIn(a, [s["id"] for s in self.assertOk(
            self.sem("list", "--owner", 4242))["sets"]])

    def test_info(self):
        doc = self.assertOk(self.sem("info"))
        self.assertEqual(list(doc), ["limits", "usage"])
        with open("/proc/sys/kernel/sem") as f:
            semmsl, semmns, semopm, semmni = (int(x) for x in f.read().split())
        limits = doc["limits"]
        self.assertEqual(list(limits), ["semmsl", "semmns", "semopm", "semmni",
                                        "semvmx", "semaem"])
        self.assertEqual((limits["semmsl"], limits["semmns"], limits["semopm"],
                          limits["semmni"]), (semmsl, semmns, semopm, semmni))
        self.assertEqual(limits["semvmx"], 32767)
        self.make_set(3)
        # Other sets may come and go (tests run in parallel): the count
        # must match /proc in one of a few rounds; ours is counted.
        for _ in range(50):
            after = self.assertOk(self.sem("info"))["usage"]
            if after["sets"] == len(proc_sysvipc("sem")):
                break
        else:
            self.fail("info's set count never matched /proc/sysvipc/sem")
        self.assertEqual(list(after), ["sets", "semaphores"])
        self.assertGreaterEqual(after["sets"], 1)
        self.assertGreaterEqual(after["semaphores"], 3)


class OutputTest(SemTestCase):

    def test_compact_by_default_and_pretty(self):
        semid = self.make_set()
        r = self.sem("stat", semid)
        self.assertEqual(r.out.count(b"\n"), 1)
        pretty = self.sem("--pretty", "stat", semid)
        self.assertGreater(pretty.out.count(b"\n"), 5)
        self.assertEqual(json.loads(pretty.out), r.json)

    def test_version_and_help(self):
        r = self.sem("--version")
        self.assertEqual(r.rc, 0)
        self.assertRegex(r.out.decode(), r"^\d+\.\d+\.\d+\s*$")
        for sub in ("get", "op", "P", "V", "stat", "set", "rm", "list", "info"):
            h = self.sem(sub, "--help")
            self.assertEqual(h.rc, 0, h)
            self.assertIn(b"Usage:", h.out)

    def test_ignored_signals_stay_ignored(self):
        # nohup: SIGHUP ignored; a wait is not ended by it.
        semid = self.make_set(1, [0])
        waiter = self.background("P", semid, "--timeout", 5,
                                 preexec_fn=lambda: signal.signal(
                                     signal.SIGHUP, signal.SIG_IGN))
        self.wait_for_waiters(semid, 0, "ncnt")
        waiter.send_signal(signal.SIGHUP)
        time.sleep(0.2)
        self.assertIsNone(waiter.poll(), "an ignored SIGHUP ended the wait")
        self.assertOk(self.sem("V", semid))
        waiter.communicate(timeout=10)
        self.assertEqual(waiter.returncode, 0)


if __name__ == "__main__":
    unittest.main()
