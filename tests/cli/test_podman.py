"""shmctl-lock info/status --podman read podman's own lock segment,
read-only: against real podman from Debian's package (volumes allocate and
free locks), and against segments of podman's layout made here, with a
mutex held by a live thread and by one that died. Corrupt and foreign
objects are refused; no inspection changes a byte.

Podman runs in a mount namespace of the test's own, with a tmpfs on
/dev/shm and its state in a temporary directory, so that neither the
host's podman nor the host's /dev/shm is touched."""

import ctypes
import hashlib
import json
import mmap
import os
import re
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ipctk_test import IpcTestCase, run, tool_path  # noqa: E402

HEADER = 56
GROUP = 1288
MUTEX = 40
GROUP_LOCKS_AT = 8
MAGIC = 0x87D1
KIND_AT = 16  # glibc x86_64: __kind of pthread_mutex_t
EOWNERDEAD = 130

PYTHON = "/usr/bin/python3"
SOURCE_DIR = os.environ.get("IPCTK_SOURCE_DIR", os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..", ".."))


def mutex_offset(lock_id):
    return HEADER + (lock_id // 32) * GROUP + GROUP_LOCKS_AT + (lock_id % 32) * MUTEX


def make_podman_segment(path, num_locks=2048, allocated=()):
    """A file laid out as podman lays out its segment: the magic, the
    counts, robust process-shared mutexes made by glibc, and the bitmaps
    of `allocated`."""
    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    bitmaps = (num_locks + 31) // 32
    size = HEADER + bitmaps * GROUP
    with open(path, "wb") as f:
        f.truncate(size)
    fd = os.open(path, os.O_RDWR)
    try:
        mm = mmap.mmap(fd, size)
    finally:
        os.close(fd)
    struct.pack_into("<HH", mm, 0, MAGIC, 0)
    struct.pack_into("<II", mm, 48, bitmaps, num_locks)
    attr = ctypes.create_string_buffer(64)
    assert libc.pthread_mutexattr_init(attr) == 0
    assert libc.pthread_mutexattr_setpshared(attr, 1) == 0  # PROCESS_SHARED
    assert libc.pthread_mutexattr_setrobust(attr, 1) == 0   # ROBUST
    buf = (ctypes.c_char * size).from_buffer(mm)
    base = ctypes.addressof(buf)
    offsets = [8] + [mutex_offset(i) for i in range(bitmaps * 32)]
    for off in offsets:
        assert libc.pthread_mutex_init(ctypes.c_void_p(base + off), attr) == 0
    for i in allocated:
        at = HEADER + (i // 32) * GROUP
        word = struct.unpack_from("<I", mm, at)[0] | (1 << (i % 32))
        struct.pack_into("<I", mm, at, word)
    del buf
    mm.close()
    return size


# A process that locks a mutex of a podman-format file in a thread of its
# own, says so, and sleeps: argv path offset.
HOLDER = r"""
import ctypes, mmap, os, sys, threading, time
libc = ctypes.CDLL("libc.so.6", use_errno=True)
path, offset = sys.argv[1], int(sys.argv[2])
fd = os.open(path, os.O_RDWR)
mm = mmap.mmap(fd, 0)
buf = (ctypes.c_char * len(mm)).from_buffer(mm)
addr = ctypes.addressof(buf) + offset
def hold():
    rc = libc.pthread_mutex_lock(ctypes.c_void_p(addr))
    print(rc, threading.get_native_id(), flush=True)
    time.sleep(600)
threading.Thread(target=hold, daemon=True).start()
time.sleep(600)
"""

# Tries the mutex once: prints pthread_mutex_trylock's result.
TRYLOCK = r"""
import ctypes, mmap, os, sys
libc = ctypes.CDLL("libc.so.6", use_errno=True)
fd = os.open(sys.argv[1], os.O_RDWR)
mm = mmap.mmap(fd, 0)
buf = (ctypes.c_char * len(mm)).from_buffer(mm)
print(libc.pthread_mutex_trylock(ctypes.c_void_p(ctypes.addressof(buf) + int(sys.argv[2]))))
"""


def digest(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


class PodmanFormatTest(IpcTestCase):
    """Segments of podman's layout made here (no podman needed)."""

    def setUp(self):
        super().setUp()
        self.tmp = tempfile.mkdtemp(prefix="ipctk-podman-")
        self.addCleanup(shutil.rmtree, self.tmp, True)
        self.procs = []
        self.addCleanup(self.end_procs)

    def end_procs(self):
        for p in self.procs:
            if p.poll() is None:
                p.kill()
            p.wait()
            for f in (p.stdout, p.stderr):
                if f:
                    f.close()

    def segment(self, name="seg", **kw):
        path = os.path.join(self.tmp, name)
        make_podman_segment(path, **kw)
        return path

    def lk(self, *args, **kw):
        return run("shmctl-lock", *args, **kw)

    def inspect(self, path, *args):
        """status/info --podman of `path`, checking that the object's bytes
        are the same after as before."""
        before = digest(path)
        r = self.lk(*args, "--podman", "--path", path)
        self.assertEqual(digest(path), before, "the inspection changed bytes")
        return r

    def hold(self, path, offset):
        p = subprocess.Popen([PYTHON, "-c", HOLDER, path, str(offset)],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True)
        self.procs.append(p)
        rc, tid = p.stdout.readline().split()
        self.assertEqual(rc, "0")
        return p, int(tid)

    def test_counts_and_allocated_locks(self):
        path = self.segment(num_locks=128, allocated=(0, 5, 33, 127))
        info = self.assertOk(self.inspect(path, "info"))
        self.assertEqual(
            {k: info[k] for k in ("backend", "size", "locks", "bitmaps",
                                  "mutex_size", "allocated", "free", "held",
                                  "owner_died")},
            {"backend": "podman", "size": HEADER + 4 * GROUP, "locks": 128,
             "bitmaps": 4, "mutex_size": MUTEX, "allocated": 4, "free": 124,
             "held": 0, "owner_died": 0})
        self.assertEqual(info["path"], path)
        self.assertFalse(info["segment_lock"]["held"])
        doc = self.assertOk(self.inspect(path, "status"))
        self.assertEqual([s["id"] for s in doc["status"]], [0, 5, 33, 127])
        self.assertTrue(all(s["allocated"] and not s["held"] for s in doc["status"]))
        self.assertEqual(doc["totals"], {"shown": 4, "allocated": 4,
                                         "free": 124, "held": 0,
                                         "owner_died": 0, "not_recoverable": 0})
        # IDs, and the filters, as for shmctl-lock's own segments.
        doc = self.assertOk(self.inspect(path, "status", "6", "5"))
        self.assertEqual([(s["id"], s["allocated"]) for s in doc["status"]],
                         [(6, False), (5, True)])
        doc = self.assertOk(self.inspect(path, "status", "--allocated"))
        self.assertEqual(len(doc["status"]), 4)
        self.assertError(self.inspect(path, "status", "128"), 1, "EINVAL")

    def test_held_by_a_live_thread_then_by_a_dead_owner(self):
        path = self.segment(num_locks=64, allocated=(3,))
        holder, tid = self.hold(path, mutex_offset(3))
        self.assertNotEqual(tid, holder.pid)  # a thread of its own
        doc = self.assertOk(self.inspect(path, "status", "--held"))
        self.assertEqual(doc["status"], [{
            "id": 3, "allocated": True, "held": True, "owner_died": False,
            "not_recoverable": False, "inconsistent": False,
            "waiters": False, "holder_tid": tid, "holder_found": True,
            "holder_pid": holder.pid, "holder_command": "python3"}])
        self.assertEqual(self.assertOk(self.inspect(path, "info"))["held"], 1)
        text = self.inspect(path, "status", "--table").out.decode()
        self.assertIn("tid %d of python3 (%d)" % (tid, holder.pid), text)
        # Killed holding it: the kernel marks it (robust list), and says
        # whose it was no more; glibc's owner field still does.
        holder.kill()
        holder.wait()
        doc = self.assertOk(self.inspect(path, "status", "--stale"))
        self.assertEqual(doc["status"], [{
            "id": 3, "allocated": True, "held": False, "owner_died": True,
            "not_recoverable": False, "inconsistent": False,
            "waiters": False, "holder_tid": tid, "holder_found": None,
            "holder_pid": None, "holder_command": None}])
        self.assertEqual(doc["totals"]["owner_died"], 1)
        text = self.inspect(path, "status", "-t").out.decode()
        self.assertRegex(text, r"(?m)^ 3  yes +OWNER-DIED  no +tid %d \(gone\)$" % tid)
        # What podman's next locker gets: EOWNERDEAD, as the status said.
        out = subprocess.run([PYTHON, "-c", TRYLOCK, path, str(mutex_offset(3))],
                             capture_output=True, text=True, timeout=30).stdout
        self.assertEqual(out.strip(), str(EOWNERDEAD))

    def test_segment_lock_held(self):
        path = self.segment(num_locks=32)
        holder, tid = self.hold(path, 8)
        info = self.assertOk(self.inspect(path, "info"))
        self.assertEqual((info["segment_lock"]["held"],
                          info["segment_lock"]["holder_tid"],
                          info["segment_lock"]["holder_pid"]),
                         (True, tid, holder.pid))
        fields = self.inspect(path, "info", "--table").out.decode()
        self.assertRegex(fields, r"\nsegment_lock +held, tid %d of python3 \(%d\)\n"
                         % (tid, holder.pid))

    def test_not_recoverable(self):
        """A locker that got EOWNERDEAD and unlocked without making the
        mutex consistent leaves it not recoverable, whatever tid a later
        trylock leaves in its word."""
        path = self.segment(num_locks=32, allocated=(4,))
        holder, _ = self.hold(path, mutex_offset(4))
        holder.kill()
        holder.wait()
        script = TRYLOCK.replace(
            "print(libc.pthread_mutex_trylock(",
            "m = ctypes.c_void_p(ctypes.addressof(buf) + int(sys.argv[2]))\n"
            "print(libc.pthread_mutex_lock(m), libc.pthread_mutex_unlock(m),"
            " libc.pthread_mutex_trylock(m))\n#(")
        out = subprocess.run([PYTHON, "-c", script, path, str(mutex_offset(4))],
                             capture_output=True, text=True, timeout=30).stdout
        self.assertEqual(out.split(), [str(EOWNERDEAD), "0", "131"])  # ENOTRECOVERABLE
        doc = self.assertOk(self.inspect(path, "status", "--stale"))
        s = doc["status"][0]
        self.assertEqual((s["id"], s["not_recoverable"], s["held"],
                          s["owner_died"]), (4, True, False, False))
        self.assertEqual(doc["totals"]["not_recoverable"], 1)
        self.assertIn("NOT-RECOVERABLE", self.inspect(path, "status", "-t").out.decode())

    @unittest.skipUnless(os.geteuid() == 0, "needs root (unshare --pid)")
    def test_a_holder_of_another_pid_namespace_is_not_ours(self):
        """Its thread id means another process here: not named."""
        path = self.segment(num_locks=32, allocated=(1,))
        p = subprocess.Popen(["unshare", "--pid", "--fork", "--mount-proc",
                              PYTHON, "-c", HOLDER, path, str(mutex_offset(1))],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True)
        self.procs.append(p)
        line = p.stdout.readline().split()
        if not line:
            self.skipTest("unshare --pid is not allowed here")
        tid = int(line[1])
        self.assertLess(tid, 10)  # small: the namespace's own numbering
        doc = self.assertOk(self.inspect(path, "status", "--held"))
        s = doc["status"][0]
        self.assertEqual((s["held"], s["holder_tid"], s["holder_found"],
                          s["holder_pid"], s["holder_command"]),
                         (True, tid, False, None, None))
        self.assertIn("tid %d (not found)" % tid,
                      self.inspect(path, "status", "-t").out.decode())

    def refused(self, path, *pattern):
        for sub in ("info", "status"):
            r = self.inspect(path, sub)
            err = self.assertError(r, 1, "EPROTO")
            for p in pattern:
                self.assertRegex(err["message"], p)
            self.assertIn(path, err["message"])

    def patch(self, path, offset, fmt, *values):
        with open(path, "r+b") as f:
            f.seek(offset)
            f.write(struct.pack(fmt, *values))

    def test_corrupt_and_foreign_objects_are_refused(self):
        path = self.segment(num_locks=64)
        self.patch(path, 0, "<H", 0x1234)
        self.refused(path, "magic 0x1234", "0x87d1")
        path = self.segment("unused", num_locks=64)
        self.patch(path, 2, "<H", 1)
        self.refused(path, "unused field is 1")
        # Truncated: shorter than the header, and than its counts make.
        path = self.segment("short", num_locks=64)
        os.truncate(path, 40)
        self.refused(path, "40 bytes, shorter than the 56-byte header")
        path = self.segment("cut", num_locks=64)
        os.truncate(path, HEADER + 2 * GROUP - 8)
        self.refused(path, "2 bitmaps of 32 locks make %d" % (HEADER + 2 * GROUP),
                     "40-byte pthread_mutex_t", "another ABI")
        # num_locks larger than the object.
        path = self.segment("more", num_locks=64)
        self.patch(path, 48, "<II", 4, 128)
        self.refused(path, "num_locks larger than the object")
        path = self.segment("misfit", num_locks=64)
        self.patch(path, 48, "<II", 2, 40)
        self.refused(path, "num_locks 40 does not fit num_bitmaps 2")
        # A header whose counts would overflow 32 bits, in a sparse file of
        # the size they make: refused before any lock is read.
        path = self.segment("huge", num_locks=32)
        self.patch(path, 48, "<II", 1 << 27, 0xFFFFFFFF)
        self.refused(path, "does not fit")
        self.patch(path, 48, "<II", 1 << 20, 1 << 25)
        os.truncate(path, HEADER + (1 << 20) * GROUP)
        self.refused(path, "more than the 16777216")
        # A mutex that is not podman's kind (another ABI shows so).
        path = self.segment("kind", num_locks=64)
        self.patch(path, mutex_offset(7) + KIND_AT, "<i", 0)
        self.refused(path, "lock 7's mutex kind is 0x0", "robust process-shared")
        # Not a regular file; and missing.
        err = self.assertError(self.lk("info", "--podman", "--path", self.tmp),
                               1, "EPROTO")
        self.assertIn("not a regular file", err["message"])
        # A FIFO is not even opened (that would wait for a writer).
        fifo = os.path.join(self.tmp, "fifo")
        os.mkfifo(fifo)
        err = self.assertError(self.lk("info", "--podman", "--path", fifo,
                                       timeout=10), 1, "EPROTO")
        self.assertIn("not a regular file", err["message"])
        err = self.assertError(self.lk("info", "--podman", "--path",
                                       os.path.join(self.tmp, "none")), 1, "ENOENT")
        self.assertIn("podman makes it", err.get("hint", ""))

    def test_a_shmctl_lock_segment_is_not_podman_s(self):
        path = os.path.join(self.tmp, "ours")
        self.assertOk(self.lk("init", "--path", path, "--locks", 64))
        self.addCleanup(self.lk, "destroy", "--force", "--path", path)
        err = self.assertError(self.inspect(path, "status"), 1, "EPROTO")
        self.assertIn("is a shmctl-lock segment, not podman's", err["message"])
        self.assertEqual(err["hint"], "drop --podman to read it")

    def test_readme_session(self):
        """The README's podman session, run again on a segment of podman's
        layout with the same locks in use: the same tables."""
        with open(os.path.join(SOURCE_DIR, "README.md")) as f:
            text = f.read()
        section = text.split("\n## Debugging podman's locks", 1)[1]
        section = section.split("\n## ", 1)[0]
        steps = []
        for block in re.findall(r"^```\n(.*?)^```", section, re.S | re.M):
            for line in block.splitlines():
                if line.startswith("# "):
                    steps.append((line[2:].split(), []))
                else:
                    steps[-1][1].append(line)
        self.assertEqual(len(steps), 4)
        path = self.segment(allocated=(0, 1, 2))
        holder = None
        for words, output in steps:
            self.assertEqual(words[0], "shmctl-lock")
            self.assertIn("--podman", words)
            if "--path" in words:  # inspect() gives --podman --path itself
                del words[words.index("--path"):words.index("--path") + 2]
            words.remove("--podman")
            # The README's third table shows lock 2 held, its fourth the
            # holder killed.
            wants = "\n".join(output)
            if " held " in wants and holder is None:
                holder, _ = self.hold(path, mutex_offset(2))
            elif "OWNER-DIED" in wants and holder is not None:
                holder.kill()
                holder.wait()
            r = self.inspect(path, *words[1:])
            self.assertEqual((r.rc, r.err), (0, b""), r)
            got = r.out.decode()
            # Tids, pids and paths differ; the lines' shapes must not.
            norm = lambda t: re.sub(r"\d+", "N", t.replace(path, "P").replace(
                "/tmp/pdx/copy", "P").replace("/libpod_lock", "P"))
            self.assertEqual([norm(l).split() for l in got.splitlines()],
                             [norm(l).split() for l in output], words)

    def test_usage(self):
        path = self.segment(num_locks=32)
        self.assertError(self.lk("status", "--podman", "--any-owner",
                                 "--path", path), 2, "EINVAL")
        self.assertError(self.lk("status", "--podman", "--path", path, "1", "1"),
                         2, "EINVAL")

    @unittest.skipUnless(os.geteuid() == 0, "needs root (setpriv)")
    def test_default_path_follows_podman_s_rules(self):
        # Where there is no segment the error names the path looked at:
        # root's, or a rootless user's (nobody's here).
        env = dict(os.environ, SHMCTL_LOCK_PATH="/not-podman")
        if not os.path.exists("/dev/shm/libpod_lock"):
            err = self.assertError(self.lk("info", "--podman", env=env), 1, "ENOENT")
            self.assertIn("/dev/shm/libpod_lock", err["message"])
        uid = int(subprocess.run(["id", "-u", "nobody"], capture_output=True,
                                 text=True).stdout)
        if not os.path.exists("/dev/shm/libpod_rootless_lock_%d" % uid):
            err = self.assertError(self.lk("info", "--podman", env=env,
                                           user="nobody"), 1, "ENOENT")
            self.assertIn("/dev/shm/libpod_rootless_lock_%d" % uid, err["message"])


# In CI (.ci/run: root, podman installed by scripts/deps) these must run:
# a missing podman or namespace there is a failure, not a skip.
IN_CI = os.environ.get("CI") == "true"


@unittest.skipUnless(shutil.which("podman") or IN_CI, "podman is not installed")
@unittest.skipUnless(os.geteuid() == 0 or IN_CI, "podman's root lock segment needs root")
class RealPodmanTest(IpcTestCase):
    """Volumes made by podman itself allocate locks in its segment; podman's
    own state says which (each volume's lockID)."""

    def setUp(self):
        super().setUp()
        self.tmp = tempfile.mkdtemp(prefix="ipctk-podman-")
        self.addCleanup(shutil.rmtree, self.tmp, True)
        # A mount namespace with its own /dev/shm, kept by a sleeping
        # process; commands join it with nsenter.
        self.ns = subprocess.Popen(
            ["unshare", "--mount", "--propagation", "private", "sh", "-c",
             "mount -t tmpfs tmpfs /dev/shm && echo ready && exec sleep 900"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.addCleanup(self.end_ns)
        if self.ns.stdout.readline().strip() != "ready":
            # Never the host's /dev/shm: a podman there owns its segment.
            why = "no private mount namespace here: %s" % self.ns.stderr.read()
            if IN_CI:
                self.fail(why)
            self.skipTest(why)
        self.podman = ["podman", "--root", os.path.join(self.tmp, "root"),
                       "--runroot", os.path.join(self.tmp, "run"),
                       "--storage-driver", "vfs", "--cgroup-manager", "cgroupfs"]
        self.prefix = "ipctk-%d-" % os.getpid()

    def end_ns(self):
        if self.ns.poll() is None:
            self.ns.kill()
        self.ns.wait()
        self.ns.stdout.close()
        self.ns.stderr.close()

    def inside(self, *argv, check=True):
        r = subprocess.run(["nsenter", "-t", str(self.ns.pid), "-m", "--"] +
                           [str(a) for a in argv], capture_output=True,
                           timeout=120)
        if check:
            self.assertEqual(r.returncode, 0, r)
        return r

    def volume(self, verb, *names):
        self.inside(*self.podman, "volume", verb, *[self.prefix + n for n in names])

    def lock_ids(self):
        """Each volume's lock as podman's state (bolt_state.db) records it."""
        with open(os.path.join(self.tmp, "root", "libpod", "bolt_state.db"),
                  "rb") as f:
            db = f.read().decode("latin-1")
        names = self.inside(*self.podman, "volume", "ls", "--format",
                            "{{.Name}}").stdout.decode().split()
        ids = {}
        for name in names:
            found = set(re.findall(r'\{"name":"%s","lockID":(\d+)' % re.escape(name), db))
            self.assertEqual(len(found), 1, (name, found))
            ids[name[len(self.prefix):]] = int(found.pop())
        return ids

    def shm_digest(self):
        return hashlib.sha256(self.inside("cat", "/dev/shm/libpod_lock").stdout).hexdigest()

    def ipctk(self, *args):
        before = self.shm_digest()
        r = self.inside(tool_path("shmctl-lock"), *args, "--podman")
        self.assertEqual(self.shm_digest(), before, "the inspection changed bytes")
        return json.loads(r.stdout)

    def test_volumes_allocate_and_free_locks(self):
        self.addCleanup(self.inside, *self.podman, "volume", "prune", "--force",
                        check=False)
        # podman makes its segment on first use, with no lock allocated.
        self.inside(*self.podman, "volume", "ls")
        info = self.ipctk("info")
        self.assertEqual((info["allocated"], info["free"]), (0, 2048))
        self.volume("create", "a")
        self.volume("create", "b")
        self.volume("create", "c")
        ids = self.lock_ids()
        self.assertEqual(set(ids), {"a", "b", "c"})
        doc = self.ipctk("status")
        self.assertEqual(sorted(s["id"] for s in doc["status"]),
                         sorted(ids.values()))
        self.assertTrue(all(s["allocated"] and not s["held"] and
                            not s["owner_died"] for s in doc["status"]))
        info = self.ipctk("info")
        self.assertEqual((info["path"], info["size"], info["locks"],
                          info["mutex_size"]), ("/libpod_lock", 82488, 2048, 40))
        self.assertEqual((info["allocated"], info["free"]), (3, 2048 - 3))
        # Removed: its lock is free again, the others stay.
        self.volume("rm", "b")
        doc = self.ipctk("status")
        self.assertEqual(sorted(s["id"] for s in doc["status"]),
                         sorted([ids["a"], ids["c"]]))
        self.assertEqual(self.ipctk("info")["free"], 2048 - 2)
        # podman gives the freed lock to the next volume.
        self.volume("create", "d")
        self.assertEqual(self.lock_ids()["d"], ids["b"])
        self.volume("rm", "a", "c", "d")
        self.assertEqual(self.ipctk("status")["status"], [])


if __name__ == "__main__":
    unittest.main(verbosity=2)
