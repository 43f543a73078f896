"""CLI tests of sysv-shm: run the built binary, parse its JSON, and check it
against the kernel (/proc/sysvipc/shm) and tools no one here wrote (ipcmk,
ipcs, lsipc, python3-sysv-ipc).

Run: IPCTK_BUILD_DIR=build /usr/bin/python3 tests/cli/test_sysv_shm.py
Needs root (setpriv to 'nobody', SHM_LOCK, IPC_SET of uid) and the
python3-sysv-ipc package.
"""

import base64
import errno
import json
import os
import pwd
import random
import re
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ipctk_test  # noqa: E402
from ipctk_test import IpcTestCase, proc_sysvipc, run, tool_path, unique_key  # noqa: E402

try:
    import sysv_ipc
except ImportError:  # the tests that need it say so when they fail
    sysv_ipc = None

PAGE = os.sysconf("SC_PAGE_SIZE")
SOURCE_DIR = os.environ.get("IPCTK_SOURCE_DIR", os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..", ".."))
NOBODY = pwd.getpwnam("nobody").pw_uid
UNUSED_ID = 2147483647   # a valid id number no segment has

# Every segment object (stat, list, set, lock) has exactly these fields.
SEGMENT_FIELDS = {
    "id", "key", "key_hex", "mode", "mode_octal", "uid", "gid", "cuid",
    "cgid", "size", "nattch", "atime", "dtime", "ctime", "cpid", "lpid",
    "dest", "locked",
}
INT_FIELDS = SEGMENT_FIELDS - {"key_hex", "mode_octal", "dest", "locked"}


def proc_state(shmid):
    """/proc's whole row for a segment but rss and swap (page counts that
    move without anyone touching the segment), or None if it is gone."""
    row = shm_row(shmid)
    if row is None:
        return None
    return {k: v for k, v in row.items() if k not in ("rss", "swap")}


def shm_row(shmid):
    """The /proc/sysvipc/shm row of `shmid`, or None."""
    for row in proc_sysvipc("shm"):
        if int(row["shmid"]) == shmid:
            return row
    return None


def rows_with_key(key):
    return [r for r in proc_sysvipc("shm")
            if int(r["key"]) & 0xFFFFFFFF == key and key != 0]


def fresh_key():
    """A key that no segment has right now."""
    for _ in range(100):
        key = unique_key()
        if not rows_with_key(key):
            return key
    raise AssertionError("no free key found")


def page_round(size, unit=PAGE):
    return (size + unit - 1) // unit * unit


def segment_bytes(shmid):
    """The whole content of a segment, read without sysv-shm."""
    if sysv_ipc is None:
        raise AssertionError("python3-sysv-ipc is needed: apt-get install "
                             "python3-sysv-ipc")
    mem = sysv_ipc.attach(shmid, flags=sysv_ipc.SHM_RDONLY)
    try:
        return mem.read()
    finally:
        mem.detach()


def segment_fill(shmid, data, offset=0):
    """Writes `data` into a segment without sysv-shm."""
    if sysv_ipc is None:
        raise AssertionError("python3-sysv-ipc is needed: apt-get install "
                             "python3-sysv-ipc")
    mem = sysv_ipc.attach(shmid)
    try:
        mem.write(data, offset)
    finally:
        mem.detach()


def symbolic_perms_to_int(text):
    """'rw-r-----' (lsipc) -> 0o640."""
    value = 0
    for ch in text:
        value = value << 1 | (ch != "-")
    return value


class ShmTestCase(IpcTestCase):
    """IpcTestCase plus sysv-shm shortcuts and background holders."""

    def create(self, *args):
        r = self.shm("create", *args)
        doc = self.assertOk(r)
        self.track_shm(doc["id"])
        return doc

    def keyed(self, size=4096, *extra):
        """A new segment with a fresh key; returns (id, key)."""
        key = fresh_key()
        doc = self.create("--size", size, "--key", hex(key), "--excl", *extra)
        self.assertEqual(doc["key"], key)
        return doc["id"], key

    def stat(self, shmid):
        return self.assertOk(self.shm("stat", shmid))

    def start(self, *args, stdin=subprocess.DEVNULL, user=None):
        """Starts sysv-shm in the background (killed in cleanup) and returns
        (process, the JSON of its first stdout line)."""
        argv = [tool_path("sysv-shm")] + [str(a) for a in args]
        if user is not None:
            argv = ["setpriv", "--reuid=" + user, "--regid=nogroup",
                    "--clear-groups", "--"] + argv
        proc = subprocess.Popen(argv, stdin=stdin, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE)
        self.addCleanup(self._stop, proc)
        return proc, self._first_line(proc)

    @staticmethod
    def _stop(proc):
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=30)
        for f in (proc.stdin, proc.stdout, proc.stderr):
            if f is not None:
                f.close()

    def _first_line(self, proc, timeout=15):
        fd = proc.stdout.fileno()
        buf = b""
        deadline = time.monotonic() + timeout
        while not buf.endswith(b"\n"):
            left = deadline - time.monotonic()
            if left <= 0:
                self.fail("no JSON line from %r within %ss" % (proc.args, timeout))
            ready, _, _ = select.select([fd], [], [], left)
            if not ready:
                continue
            chunk = os.read(fd, 65536)
            if not chunk:
                proc.wait(timeout=10)
                self.fail("%r ended before printing: rc=%r stderr=%r" % (
                    proc.args, proc.returncode, proc.stderr.read()))
            buf += chunk
        self.assertEqual(buf.count(b"\n"), 1, buf)
        return json.loads(buf)

    def wait_nattch(self, shmid, count, timeout=10):
        deadline = time.monotonic() + timeout
        while self.stat(shmid)["nattch"] != count:
            if time.monotonic() > deadline:
                self.fail("nattch of %d did not become %d" % (shmid, count))
            time.sleep(0.02)

    def assertSegmentGone(self, shmid):
        self.assertIsNone(shm_row(shmid), "segment %d still exists" % shmid)

    def temp_file(self, data):
        fd, path = tempfile.mkstemp(prefix="ipctk-test-")
        self.addCleanup(os.unlink, path)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        return path


# ---------------------------------------------------------------------------
class CreateTest(ShmTestCase):

    def test_size_suffixes(self):
        cases = [("1", 1), ("4096", 4096), ("5000", 5000), ("4K", 4096),
                 ("4k", 4096), ("4KiB", 4096), ("4KB", 4000), ("1M", 1 << 20),
                 ("1MiB", 1 << 20), ("1MB", 1000000), ("3m", 3 << 20)]
        for text, size in cases:
            with self.subTest(size=text):
                doc = self.create("--size", text)
                self.assertEqual(doc["size"], size)
                self.assertEqual(doc["effective_size"], page_round(size))
                self.assertEqual(int(shm_row(doc["id"])["size"]), size)

    def test_effective_size_is_page_rounded(self):
        for size in (1, PAGE - 1, PAGE, PAGE + 1, 3 * PAGE + 7):
            with self.subTest(size=size):
                doc = self.create("--size", size)
                self.assertEqual(doc["size"], size)
                self.assertEqual(doc["effective_size"] % PAGE, 0)
                self.assertEqual(doc["effective_size"], page_round(size))

    def test_create_document(self):
        doc = self.create("--size", 5000)
        self.assertEqual(set(doc), SEGMENT_FIELDS | {"effective_size", "created",
                                                     "hugetlb", "noreserve"})
        self.assertIs(doc["created"], True)
        self.assertEqual(doc["key"], 0)
        self.assertEqual(doc["key_hex"], "0x00000000")
        self.assertEqual(doc["mode"], 0o600)        # the default
        self.assertEqual(doc["mode_octal"], "0600")
        self.assertEqual(doc["nattch"], 0)
        self.assertEqual((doc["uid"], doc["cuid"]), (0, 0))
        self.assertGreater(doc["cpid"], 0)
        self.assertLessEqual(abs(doc["ctime"] - time.time()), 60)

    def test_key_hex_and_decimal(self):
        key = fresh_key()
        doc = self.create("--size", 4096, "--key", "0x%x" % key, "--excl")
        self.assertEqual(doc["key"], key)
        self.assertEqual(doc["key_hex"], "0x%08x" % key)
        self.assertEqual(int(shm_row(doc["id"])["key"]), key)
        # The same key in decimal names the same segment.
        again = self.create("--size", 4096, "--key", str(key))
        self.assertEqual(again["id"], doc["id"])
        self.assertIs(again["created"], False)
        # A key with the high bit set: JSON says it unsigned, /proc signed.
        high = 0xFE000000 | random.randrange(1, 1 << 24)
        while rows_with_key(high):
            high = 0xFE000000 | random.randrange(1, 1 << 24)
        doc = self.create("--size", 4096, "--key", str(high), "--excl")
        self.assertEqual(doc["key"], high)
        self.assertEqual(doc["key_hex"], "0x%08x" % high)
        self.assertEqual(int(shm_row(doc["id"])["key"]), high - (1 << 32))

    def test_private(self):
        a = self.create("--size", 4096, "--private")
        b = self.create("--size", 4096, "--private")
        self.assertNotEqual(a["id"], b["id"])
        for doc in (a, b):
            self.assertEqual(doc["key"], 0)
            self.assertIs(doc["created"], True)
            self.assertEqual(int(shm_row(doc["id"])["key"]), 0)

    def test_key_path_and_proj_id_use_ftok(self):
        if sysv_ipc is None:
            self.fail("python3-sysv-ipc is needed")
        path = self.temp_file(b"ftok me")
        expected = sysv_ipc.ftok(path, 77, silence_warning=True) & 0xFFFFFFFF
        if rows_with_key(expected):
            self.skipTest("ftok key 0x%08x is taken" % expected)
        doc = self.create("--size", 4096, "--key-path", path, "--proj-id", 77,
                          "--excl")
        self.assertEqual(doc["key"], expected)
        # The same path and id find it again; another id does not.
        found = self.stat_by("--key-path", path, "--proj-id", 77)
        self.assertEqual(found["id"], doc["id"])
        other = self.shm("stat", "--key-path", path, "--proj-id", 78)
        self.assertError(other, 1, "ENOENT")

    def stat_by(self, *target):
        return self.assertOk(self.shm("stat", *target))

    def test_mode(self):
        for text, mode in (("0640", 0o640), ("600", 0o600), ("0o444", 0o444),
                           ("0777", 0o777), ("0", 0)):
            with self.subTest(mode=text):
                doc = self.create("--size", 4096, "--mode", text)
                self.assertEqual(doc["mode"], mode)
                self.assertEqual(doc["mode_octal"], "%04o" % mode)
                self.assertEqual(int(shm_row(doc["id"])["perms"], 8) & 0o777, mode)

    def test_excl_and_reopen(self):
        key = fresh_key()
        first = self.create("--size", 8192, "--key", hex(key), "--excl",
                            "--mode", "0640")
        self.assertIs(first["created"], True)
        # Without --excl the existing segment is opened, not made again.
        again = self.create("--size", 8192, "--key", hex(key))
        self.assertIs(again["created"], False)
        self.assertEqual(again["id"], first["id"])
        self.assertEqual(again["mode"], 0o640)
        smaller = self.create("--size", 100, "--key", hex(key))
        self.assertIs(smaller["created"], False)
        self.assertEqual(smaller["size"], 8192)
        self.assertEqual(len(rows_with_key(key)), 1)
        # With --excl it is an error, and nothing changes.
        r = self.shm("create", "--size", 8192, "--key", hex(key), "--excl")
        self.assertError(r, 1, "EEXIST")
        self.assertEqual(len(rows_with_key(key)), 1)

    def test_noreserve(self):
        key = hex(fresh_key())
        doc = self.create("--size", "1M", "--noreserve", "--key", key, "--excl")
        self.assertIs(doc["created"], True)
        self.assertIs(doc["noreserve"], True)
        self.assertIs(doc["hugetlb"], False)
        self.assertEqual(doc["size"], 1 << 20)
        # Opening it again cannot know how it was made: null, not a guess.
        again = self.create("--size", "1M", "--key", key)
        self.assertIs(again["created"], False)
        self.assertEqual(again["id"], doc["id"])
        self.assertIsNone(again["noreserve"])
        self.assertIsNone(again["hugetlb"])
        self.assertEqual(again["effective_size"], 1 << 20)
        self.assertIsNotNone(shm_row(doc["id"]))

    def test_hugetlb(self):
        free = 0
        huge = 2 << 20
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("HugePages_Free:"):
                    free = int(line.split()[1])
                if line.startswith("Hugepagesize:"):
                    huge = int(line.split()[1]) * 1024
        key = fresh_key()
        r = self.shm("create", "--size", 4096, "--hugetlb", "--key", hex(key),
                     "--excl")
        if free == 0:
            # vm.nr_hugepages is 0 here: a clean error and nothing made.
            err = self.assertError(r, 1)
            self.assertIn(err["code"], ("ENOMEM", "EPERM"), r)
            self.assertEqual(err["op"], "shmget")
            self.assertEqual(rows_with_key(key), [])
        else:
            doc = self.assertOk(r)
            self.track_shm(doc["id"])
            self.assertIs(doc["hugetlb"], True)
            self.assertEqual(doc["effective_size"], huge)


# ---------------------------------------------------------------------------
class AttachTest(ShmTestCase):

    def test_hold_seconds(self):
        shmid = self.make_segment(8192)
        start = time.monotonic()
        proc, doc = self.start("attach", shmid, "--hold", "1.5")
        self.assertEqual(doc["id"], shmid)
        self.assertEqual(doc["until"], "deadline")
        self.assertIs(doc["readonly"], False)
        self.assertEqual(doc["size"], 8192)
        self.assertEqual(doc["nattch"], 1)
        self.assertEqual(doc["pid"], proc.pid)
        self.assertEqual(doc["address_hex"], hex(doc["address"]))
        # Held: the kernel counts the attachment.
        self.assertEqual(self.stat(shmid)["nattch"], 1)
        self.assertEqual(int(shm_row(shmid)["nattch"]), 1)
        self.assertEqual(proc.wait(timeout=30), 0)
        self.assertGreaterEqual(time.monotonic() - start, 1.4)
        self.assertEqual(proc.stderr.read(), b"")
        after = self.stat(shmid)
        self.assertEqual(after["nattch"], 0)
        self.assertEqual(after["lpid"], proc.pid)
        self.assertGreater(after["dtime"], 0)

    def test_until_stdin_closes(self):
        shmid = self.make_segment()
        proc, doc = self.start("attach", shmid, stdin=subprocess.PIPE)
        self.assertEqual(doc["until"], "stdin")
        # Input that is not the end keeps it attached.
        proc.stdin.write(b"some input\n")
        proc.stdin.flush()
        time.sleep(0.3)
        self.assertIsNone(proc.poll())
        self.assertEqual(self.stat(shmid)["nattch"], 1)
        proc.stdin.close()
        self.assertEqual(proc.wait(timeout=30), 0)
        self.assertEqual(self.stat(shmid)["nattch"], 0)

    def test_readonly(self):
        shmid = self.make_segment()
        # Owned by nobody with mode 0400: it may attach read-only only.
        self.assertOk(self.shm("set", shmid, "--uid", NOBODY, "--mode", "0400"))
        r = self.shm("attach", shmid, "--readonly", "--hold", 0, user="nobody")
        doc = self.assertOk(r)
        self.assertIs(doc["readonly"], True)
        self.assertEqual(doc["nattch"], 1)
        r = self.shm("attach", shmid, "--hold", 0, user="nobody")
        self.assertError(r, 1, "EACCES")
        self.assertEqual(self.stat(shmid)["nattch"], 0)

    def test_command_status_is_returned(self):
        shmid = self.make_segment()
        # The command sees the segment attached (the tool holds it).
        r = self.shm("attach", shmid, "--", "sh", "-c",
                     '"$0" stat "$1"; exit 7', tool_path("sysv-shm"), shmid)
        self.assertEqual(r.rc, 7, r)
        lines = r.out.decode().splitlines()
        self.assertEqual(len(lines), 2, r)
        held, inner = json.loads(lines[0]), json.loads(lines[1])
        self.assertEqual(held["until"], "command")
        self.assertEqual(inner["id"], shmid)
        self.assertEqual(inner["nattch"], 1)
        self.assertEqual(self.stat(shmid)["nattch"], 0)
        r = self.shm("attach", shmid, "--readonly", "--", "true")
        self.assertEqual(r.rc, 0, r)
        self.assertIs(json.loads(r.out)["readonly"], True)
        r = self.shm("attach", shmid, "--", "sh", "-c", "exit 0")
        self.assertEqual(r.rc, 0, r)

    def test_command_not_found_or_not_executable(self):
        # Refused before attaching: no document, one error, 127 / 126.
        shmid = self.make_segment()
        r = self.shm("attach", shmid, "--", "/nonexistent/ipctk-no-such-command")
        err = self.assertError(r, 127, "ENOENT")
        self.assertEqual(err["op"], "execvp")
        r = self.shm("attach", shmid, "--", "/tmp")
        self.assertError(r, 126, "EACCES")
        st = self.stat(shmid)
        self.assertEqual((st["nattch"], st["atime"]), (0, 0))

    def test_signal_is_passed_to_the_command(self):
        shmid = self.make_segment()
        proc, doc = self.start("attach", shmid, "--", "sleep", "30")
        self.assertEqual(doc["until"], "command")
        # Until the forked child has exec'd it holds a copy of the attachment.
        self.wait_nattch(shmid, 1)
        proc.send_signal(signal.SIGTERM)
        self.assertEqual(proc.wait(timeout=10), 143)
        self.assertEqual(self.stat(shmid)["nattch"], 0)

    def test_attach_by_key(self):
        shmid, key = self.keyed()
        r = self.shm("attach", "--key", hex(key), "--hold", 0)
        doc = self.assertOk(r)
        self.assertEqual(doc["id"], shmid)
        self.assertEqual(doc["key"], key)


# ---------------------------------------------------------------------------
class ReadWriteTest(ShmTestCase):

    def test_write_data_and_read_back(self):
        shmid = self.make_segment(4096)
        doc = self.assertOk(self.shm("write", shmid, "--data", "hello"))
        self.assertEqual(doc, {"id": shmid, "offset": 0, "written": 5,
                               "zero_filled": 0})
        self.assertEqual(segment_bytes(shmid)[:6], b"hello\0")
        doc = self.assertOk(self.shm("read", shmid, "--length", 5))
        self.assertEqual(doc, {"id": shmid, "offset": 0, "length": 5,
                               "encoding": "base64",
                               "data": base64.b64encode(b"hello").decode()})

    def test_read_encodings(self):
        shmid = self.make_segment(4096)
        text = "h\u00e9llo \u2713 \U0001F600".encode()
        segment_fill(shmid, text, 100)
        n = len(text)
        doc = self.assertOk(self.shm("read", shmid, "--offset", 100,
                                     "--length", n, "--encoding", "utf8"))
        self.assertEqual(doc["data"].encode(), text)
        self.assertEqual(doc["encoding"], "utf8")
        doc = self.assertOk(self.shm("read", shmid, "--offset", 100,
                                     "--length", n, "--encoding", "hex"))
        self.assertEqual(doc["data"], text.hex())
        doc = self.assertOk(self.shm("read", shmid, "--offset", 100,
                                     "--length", n, "--encoding", "base64"))
        self.assertEqual(base64.b64decode(doc["data"]), text)
        # No --length: to the end.
        doc = self.assertOk(self.shm("read", shmid, "--offset", 4000))
        self.assertEqual(doc["length"], 96)
        self.assertEqual(base64.b64decode(doc["data"]), bytes(96))
        # The whole segment by default.
        doc = self.assertOk(self.shm("read", shmid))
        self.assertEqual(base64.b64decode(doc["data"]), segment_bytes(shmid))
        # Reading at the very end gives nothing, not an error.
        doc = self.assertOk(self.shm("read", shmid, "--offset", 4096))
        self.assertEqual((doc["length"], doc["data"]), (0, ""))

    def test_read_utf8_of_invalid_bytes_is_eilseq(self):
        shmid = self.make_segment(4096)
        segment_fill(shmid, b"ok\xc3\x28 bad", 0)
        r = self.shm("read", shmid, "--length", 8, "--encoding", "utf8")
        err = self.assertError(r, 1, "EILSEQ")
        self.assertEqual(err["errno"], errno.EILSEQ)
        # The valid prefix alone reads fine.
        doc = self.assertOk(self.shm("read", shmid, "--length", 2,
                                     "--encoding", "utf8"))
        self.assertEqual(doc["data"], "ok")

    def test_read_raw_is_exact(self):
        shmid = self.make_segment(5000)
        data = os.urandom(5000)
        segment_fill(shmid, data)
        r = self.shm("read", shmid, "--raw")
        self.assertEqual((r.rc, r.err), (0, b""), r)
        self.assertEqual(r.out, data)
        r = self.shm("read", shmid, "--raw", "--offset", 1000, "--length", 17)
        self.assertEqual(r.out, data[1000:1017])
        r = self.shm("read", shmid, "--raw", "--offset", "1K")
        self.assertEqual(r.out, data[1024:])

    def test_write_hex_and_base64(self):
        shmid = self.make_segment(4096)
        doc = self.assertOk(self.shm("write", shmid, "--hex", "00ff10Ab"))
        self.assertEqual(doc["written"], 4)
        self.assertEqual(segment_bytes(shmid)[:4], b"\x00\xff\x10\xab")
        payload = os.urandom(100)
        doc = self.assertOk(self.shm("write", shmid, "--offset", 10, "--base64",
                                     base64.b64encode(payload).decode()))
        self.assertEqual((doc["offset"], doc["written"]), (10, 100))
        content = segment_bytes(shmid)
        self.assertEqual(content[10:110], payload)
        self.assertEqual(content[:4], b"\x00\xff\x10\xab")
        # An empty value is a valid, empty write.
        doc = self.assertOk(self.shm("write", shmid, "--data", ""))
        self.assertEqual(doc["written"], 0)
        self.assertEqual(segment_bytes(shmid), content)

    def test_write_file_and_stdin(self):
        shmid = self.make_segment(4096)
        data = os.urandom(3000)
        path = self.temp_file(data)
        doc = self.assertOk(self.shm("write", shmid, "--file", path))
        self.assertEqual(doc["written"], 3000)
        self.assertEqual(segment_bytes(shmid)[:3000], data)
        piped = os.urandom(500)
        doc = self.assertOk(self.shm("write", shmid, "--offset", 3500,
                                     input=piped))
        self.assertEqual((doc["offset"], doc["written"]), (3500, 500))
        doc = self.assertOk(self.shm("write", shmid, "--file", "-",
                                     input=b"dash"))
        self.assertEqual(doc["written"], 4)
        content = segment_bytes(shmid)
        self.assertEqual(content[:4], b"dash")
        self.assertEqual(content[4:3000], data[4:])
        self.assertEqual(content[3500:4000], piped)

    def test_write_from_a_pseudo_file(self):
        # /proc files say their size is 0 and still have content.
        with open("/proc/sys/kernel/ostype", "rb") as f:
            expected = f.read()
        shmid = self.make_segment(4096)
        doc = self.assertOk(self.shm("write", shmid, "--file",
                                     "/proc/sys/kernel/ostype"))
        self.assertEqual(doc["written"], len(expected))
        self.assertEqual(segment_bytes(shmid)[:len(expected)], expected)

    def test_offset_length_and_zero_fill(self):
        shmid = self.make_segment(256)
        segment_fill(shmid, b"\xaa" * 256)
        # Without --zero-fill the rest of the region is kept.
        doc = self.assertOk(self.shm("write", shmid, "--offset", 10,
                                     "--length", 20, "--data", "abc"))
        self.assertEqual((doc["written"], doc["zero_filled"]), (3, 0))
        self.assertEqual(segment_bytes(shmid),
                         b"\xaa" * 10 + b"abc" + b"\xaa" * 243)
        # With it, the rest of the region (and only that) is zeroed.
        doc = self.assertOk(self.shm("write", shmid, "--offset", 10,
                                     "--length", 20, "--data", "xyz",
                                     "--zero-fill"))
        self.assertEqual((doc["written"], doc["zero_filled"]), (3, 17))
        self.assertEqual(segment_bytes(shmid),
                         b"\xaa" * 10 + b"xyz" + bytes(17) + b"\xaa" * 226)
        # Without --length the region runs to the end.
        doc = self.assertOk(self.shm("write", shmid, "--offset", 200,
                                     "--hex", "01", "--zero-fill"))
        self.assertEqual(doc["zero_filled"], 55)
        content = segment_bytes(shmid)
        self.assertEqual(content[199:], b"\xaa\x01" + bytes(55))
        # Zero-fill from stdin too.
        doc = self.assertOk(self.shm("write", shmid, "--length", 8,
                                     "--zero-fill", input=b"12"))
        self.assertEqual((doc["written"], doc["zero_filled"]), (2, 6))
        self.assertEqual(segment_bytes(shmid)[:9], b"12" + bytes(6) + b"\xaa")

    def test_write_exactly_to_the_end(self):
        shmid = self.make_segment(100)
        doc = self.assertOk(self.shm("write", shmid, "--offset", 90,
                                     "--data", "0123456789"))
        self.assertEqual(doc["written"], 10)
        self.assertEqual(segment_bytes(shmid)[90:], b"0123456789")

    def test_read_and_write_by_key(self):
        shmid, key = self.keyed(4096)
        self.assertOk(self.shm("write", "--key", str(key), "--data", "bykey"))
        doc = self.assertOk(self.shm("read", "--key", hex(key), "--length", 5,
                                     "--encoding", "utf8"))
        self.assertEqual((doc["id"], doc["data"]), (shmid, "bykey"))


# ---------------------------------------------------------------------------
class RmTest(ShmTestCase):

    def test_rm_several_ids(self):
        ids = [self.make_segment() for _ in range(3)]
        doc = self.assertOk(self.shm("rm", *ids))
        self.assertEqual([e["id"] for e in doc["removed"]], ids)
        for entry in doc["removed"]:
            self.assertEqual(set(entry), {"id", "key", "key_hex", "nattch",
                                          "deferred"})
            self.assertIs(entry["deferred"], False)
            self.assertEqual(entry["nattch"], 0)
            self.assertSegmentGone(entry["id"])

    def test_rm_by_key_and_id_together(self):
        a, key_a = self.keyed()
        b, key_b = self.keyed()
        c = self.make_segment()
        doc = self.assertOk(self.shm("rm", c, "--key", hex(key_a),
                                     "--key", str(key_b)))
        removed = {e["id"]: e for e in doc["removed"]}
        self.assertEqual(set(removed), {a, b, c})
        self.assertEqual(removed[a]["key"], key_a)
        self.assertEqual(removed[a]["key_hex"], "0x%08x" % key_a)
        for shmid in (a, b, c):
            self.assertSegmentGone(shmid)
        self.assertEqual(rows_with_key(key_a), [])

    def test_rm_same_segment_twice_removes_once(self):
        shmid, key = self.keyed()
        doc = self.assertOk(self.shm("rm", shmid, "--key", hex(key)))
        self.assertEqual(len(doc["removed"]), 1)
        self.assertSegmentGone(shmid)


# ---------------------------------------------------------------------------
class StatTest(ShmTestCase):

    def test_stat_fields(self):
        made = self.create("--size", 5000, "--mode", "0640")
        shmid = made["id"]
        st = self.stat(shmid)
        self.assertEqual(set(st), SEGMENT_FIELDS)
        for field in INT_FIELDS:
            self.assertIsInstance(st[field], int, field)
            self.assertNotIsInstance(st[field], bool, field)
        for field in ("dest", "locked"):
            self.assertIs(st[field], False, field)
        self.assertEqual(st["id"], shmid)
        self.assertEqual((st["size"], st["mode"], st["mode_octal"]),
                         (5000, 0o640, "0640"))
        self.assertEqual((st["uid"], st["gid"], st["cuid"], st["cgid"]),
                         (0, 0, 0, 0))
        self.assertEqual(st["cpid"], made["cpid"])
        self.assertEqual((st["nattch"], st["atime"], st["dtime"], st["lpid"]),
                         (0, 0, 0, 0))
        self.assertEqual(st["ctime"], made["ctime"])
        # An attach and a detach set atime, dtime and lpid.
        held = self.assertOk(self.shm("attach", shmid, "--hold", 0))
        st = self.stat(shmid)
        self.assertEqual(st["lpid"], held["pid"])
        self.assertGreater(st["atime"], 0)
        self.assertGreaterEqual(st["dtime"], st["atime"])
        self.assertLessEqual(abs(st["dtime"] - time.time()), 60)

    def test_stat_by_key(self):
        shmid, key = self.keyed()
        self.assertEqual(self.assertOk(self.shm("stat", "--key", hex(key)))["id"],
                         shmid)
        self.assertEqual(self.assertOk(self.shm("stat", "--key", str(key)))["id"],
                         shmid)


# ---------------------------------------------------------------------------
class ListInfoTest(ShmTestCase):

    def listing(self, *args):
        doc = self.assertOk(self.shm("list", *args))
        self.assertEqual(set(doc), {"count", "segments"})
        self.assertEqual(doc["count"], len(doc["segments"]))
        for seg in doc["segments"]:
            self.assertEqual(set(seg), SEGMENT_FIELDS)
        return {s["id"]: s for s in doc["segments"]}

    def test_list_all(self):
        a = self.make_segment(4096)
        b, _ = self.keyed(8192)
        segs = self.listing()
        self.assertIn(a, segs)
        self.assertIn(b, segs)
        self.assertEqual(segs[b], self.stat(b))
        self.assertEqual(segs[a]["size"], 4096)
        # A removed segment is not listed.
        c = self.make_segment()
        self.assertIn(c, self.listing())
        self.assertOk(self.shm("rm", c))
        self.assertNotIn(c, self.listing())

    def test_list_by_key(self):
        a, key = self.keyed()
        b, _ = self.keyed()
        for text in (hex(key), str(key)):
            segs = self.listing("--key", text)
            self.assertEqual(list(segs), [a])
        self.assertEqual(self.listing("--key", hex(fresh_key())), {})
        self.assertNotIn(b, self.listing("--key", hex(key)))

    def test_list_by_owner(self):
        a = self.make_segment()
        b = self.make_segment()
        self.assertOk(self.shm("set", b, "--uid", NOBODY))
        segs = self.listing("--owner", NOBODY)
        self.assertIn(b, segs)
        self.assertNotIn(a, segs)
        self.assertTrue(all(s["uid"] == NOBODY for s in segs.values()))
        segs = self.listing("--owner", 0)
        self.assertIn(a, segs)
        self.assertNotIn(b, segs)
        self.assertTrue(all(s["uid"] == 0 for s in segs.values()))

    def test_list_by_creator_pid(self):
        a = self.create("--size", 4096)
        b = self.create("--size", 4096)
        self.assertNotEqual(a["cpid"], b["cpid"])
        segs = self.listing("--creator-pid", a["cpid"])
        self.assertIn(a["id"], segs)
        self.assertNotIn(b["id"], segs)
        self.assertTrue(all(s["cpid"] == a["cpid"] for s in segs.values()))

    def test_info(self):
        def kernel(name):
            with open("/proc/sys/kernel/" + name) as f:
                return int(f.read())
        def segments():
            return sorted((int(r["shmid"]), int(r["size"]))
                          for r in proc_sysvipc("shm"))
        self.make_segment(3 * PAGE)
        # Others may create and remove segments meanwhile: retry until the
        # set of segments is the same before and after the call.
        for _ in range(50):
            before = segments()
            doc = self.assertOk(self.shm("info"))
            after = segments()
            if before == after:
                break
            time.sleep(0.05)
        else:
            self.fail("segments kept changing under the test")
        self.assertEqual(set(doc), {"limits", "usage", "page_size"})
        limits, usage = doc["limits"], doc["usage"]
        self.assertEqual(limits["shmmax"], kernel("shmmax"))
        self.assertEqual(limits["shmall"], kernel("shmall"))
        self.assertEqual(limits["shmmni"], kernel("shmmni"))
        self.assertEqual(limits["shmmin"], 1)
        self.assertGreaterEqual(limits["shmseg"], 1)
        self.assertEqual(doc["page_size"], PAGE)
        self.assertEqual(usage["segments"], len(after))
        self.assertEqual(usage["pages_total"],
                         sum(page_round(size) // PAGE for _, size in after))
        self.assertEqual(set(usage), {"segments", "pages_total",
                                      "pages_resident", "pages_swapped"})


# ---------------------------------------------------------------------------
class SetLockTest(ShmTestCase):

    def test_set_mode_uid_gid(self):
        shmid = self.make_segment()
        before = self.stat(shmid)
        doc = self.assertOk(self.shm("set", shmid, "--mode", "0640"))
        self.assertEqual(set(doc), SEGMENT_FIELDS)
        self.assertEqual((doc["mode"], doc["mode_octal"]), (0o640, "0640"))
        self.assertEqual((doc["uid"], doc["gid"]), (0, 0))
        self.assertEqual(int(shm_row(shmid)["perms"], 8), 0o640)
        doc = self.assertOk(self.shm("set", shmid, "--uid", NOBODY))
        self.assertEqual((doc["uid"], doc["gid"], doc["mode"]), (NOBODY, 0, 0o640))
        doc = self.assertOk(self.shm("set", shmid, "--gid", 4242))
        self.assertEqual((doc["uid"], doc["gid"]), (NOBODY, 4242))
        # The creator does not change; ctime does not go back.
        self.assertEqual((doc["cuid"], doc["cgid"]), (0, 0))
        self.assertGreaterEqual(doc["ctime"], before["ctime"])
        row = shm_row(shmid)
        self.assertEqual((int(row["uid"]), int(row["gid"])), (NOBODY, 4242))
        # The new owner may now use it.
        r = self.shm("write", shmid, "--data", "mine", user="nobody")
        self.assertOk(r)
        self.assertEqual(segment_bytes(shmid)[:4], b"mine")
        doc = self.assertOk(self.shm("set", shmid, "--mode", "0", "--uid", 0,
                                     "--gid", 0))
        self.assertEqual((doc["mode"], doc["uid"], doc["gid"]), (0, 0, 0))

    def test_owner_without_read_permission_can_set_mode_and_rm(self):
        # The kernel lets the owner IPC_SET and IPC_RMID without read
        # permission (ipcrm works); so must sysv-shm.
        r = self.shm("create", "--size", 4096, "--mode", "0200", user="nobody")
        shmid = self.track_shm(self.assertOk(r)["id"])
        self.assertEqual(self.shm("stat", shmid, user="nobody").rc, 1)
        doc = self.assertOk(self.shm("set", shmid, "--mode", "0000",
                                     user="nobody"))
        self.assertEqual((doc["mode_octal"], doc["uid"]), ("0000", NOBODY))
        self.assertEqual(shm_row(shmid)["perms"], "0")
        doc = self.assertOk(self.shm("rm", shmid, user="nobody"))
        self.assertEqual(doc["removed"][0]["id"], shmid)
        self.assertIsNone(shm_row(shmid))
        # Someone else's unreadable segment is still refused.
        other = self.make_segment(4096, "--mode", "0200")
        self.assertError(self.shm("rm", other, user="nobody"), 1, "EPERM")
        self.assertIsNotNone(shm_row(other))

    def test_lock_and_unlock(self):
        shmid = self.make_segment(8192)
        doc = self.assertOk(self.shm("lock", shmid))
        self.assertEqual(set(doc), SEGMENT_FIELDS)
        self.assertIs(doc["locked"], True)
        self.assertIs(self.stat(shmid)["locked"], True)
        self.assertTrue(int(shm_row(shmid)["perms"], 8) & 0o2000)
        out = subprocess.run(["ipcs", "-m"], capture_output=True, text=True).stdout
        line = [l for l in out.splitlines() if l.split()[1:2] == [str(shmid)]]
        self.assertEqual(len(line), 1, out)
        self.assertIn("locked", line[0].split()[6:])
        doc = self.assertOk(self.shm("unlock", shmid))
        self.assertIs(doc["locked"], False)
        self.assertIs(self.stat(shmid)["locked"], False)
        self.assertFalse(int(shm_row(shmid)["perms"], 8) & 0o2000)


# ---------------------------------------------------------------------------
class OutputTest(ShmTestCase):

    def test_compact_by_default_and_pretty(self):
        shmid = self.make_segment()
        compact = self.shm("stat", shmid)
        self.assertOk(compact)
        self.assertEqual(compact.out.count(b"\n"), 1)
        self.assertTrue(compact.out.endswith(b"}\n"))
        for argv in (("--pretty", "stat", shmid), ("stat", shmid, "--pretty")):
            with self.subTest(argv=argv):
                pretty = self.shm(*argv)
                doc = self.assertOk(pretty)
                self.assertEqual(doc, compact.json)
                lines = pretty.out.decode().splitlines()
                self.assertEqual(len(lines), len(SEGMENT_FIELDS) + 2)
                self.assertEqual(lines[0], "{")
                self.assertTrue(lines[1].startswith('  "id": '), lines[1])
                self.assertEqual(lines[-1], "}")
        # Errors stay one line even with --pretty.
        r = self.shm("--pretty", "stat", UNUSED_ID)
        self.assertError(r, 1)

    def test_version(self):
        with open(os.path.join(SOURCE_DIR, "meson.build")) as f:
            version = re.search(r"version:\s*'([^']+)'", f.read()).group(1)
        r = run("sysv-shm", "--version")
        self.assertEqual((r.rc, r.err), (0, b""), r)
        self.assertEqual(r.out.decode().strip(), version)


# ---------------------------------------------------------------------------
class CopyPathTest(ShmTestCase):
    """read --raw and write --file/stdin go through the segment's own file
    (/proc/self/map_files, sendfile/pwrite) when the caller may open it
    (root here), and through the mapping otherwise (nobody; read --raw into
    a regular file by vmsplice + splice): both paths must move exactly the
    region's bytes."""

    SIZE = 3 * 4096 + 123

    def traced(self, user, *args, stdout=subprocess.PIPE, input=None):
        """Runs sysv-shm under strace; returns (rc, out, trace text)."""
        fd, trace = tempfile.mkstemp(prefix="ipctk-strace-")
        os.close(fd)
        self.addCleanup(os.unlink, trace)
        # strace (root) runs setpriv, which execs the tool in the same
        # process: the trace is the tool's, setpriv's own calls aside.
        argv = [tool_path("sysv-shm")] + [str(a) for a in args]
        if user is not None:
            argv = ["setpriv", "--reuid=" + user, "--regid=nogroup",
                    "--clear-groups", "--"] + argv
        argv = ["strace", "-o", trace, "-e",
                "trace=openat,sendfile,pwrite64,vmsplice,splice"] + argv
        # LeakSanitizer cannot stop a traced process's threads and ends
        # the program instead; in a sanitizer build the leak check is off
        # here (every other test keeps it).
        env = dict(os.environ)
        env["ASAN_OPTIONS"] = env.get("ASAN_OPTIONS", "") + ":detect_leaks=0"
        p = subprocess.run(argv, input=input, stdout=stdout, env=env,
                           stderr=subprocess.PIPE, timeout=60)
        with open(trace) as f:
            return p.returncode, p.stdout, f.read()

    def check_both_paths(self, user, fast):
        shmid = self.make_segment(self.SIZE, "--mode", "0666")
        base = bytes(random.randrange(256) for _ in range(self.SIZE))
        segment_fill(shmid, base)
        data = os.urandom(2 * 4096 + 77)
        path = self.temp_file(b"skip" + data)
        os.chmod(path, 0o644)
        # A file at an odd offset, ending inside a page.
        doc = self.assertOk(self.shm("write", shmid, "--offset", 1001,
                                     "--file", path, user=user))
        self.assertEqual(doc["written"], len(data) + 4)
        want = bytearray(base)
        want[1001:1001 + 4 + len(data)] = b"skip" + data
        self.assertTrue(segment_bytes(shmid) == bytes(want))
        # Piped input (staged in memory, then copied in).
        piped = os.urandom(5000)
        doc = self.assertOk(self.shm("write", shmid, "--offset", 7, input=piped,
                                     user=user))
        want[7:5007] = piped
        self.assertTrue(segment_bytes(shmid) == bytes(want))
        # --data, then --zero-fill of the rest of the region.
        doc = self.assertOk(self.shm("write", shmid, "--offset", 9000,
                                     "--length", 3000, "--data", "abc",
                                     "--zero-fill", user=user))
        self.assertEqual((doc["written"], doc["zero_filled"]), (3, 2997))
        want[9000:12000] = b"abc" + bytes(2997)
        self.assertTrue(segment_bytes(shmid) == bytes(want))
        # Reads: a slice, the whole, the tail.
        for extra, lo, hi in ((("--offset", 999, "--length", 5000), 999, 5999),
                              ((), 0, self.SIZE),
                              (("--offset", self.SIZE - 5), self.SIZE - 5,
                               self.SIZE)):
            r = self.shm("read", shmid, "--raw", *extra, user=user)
            self.assertEqual((r.rc, r.err), (0, b""), r)
            self.assertTrue(r.out == bytes(want[lo:hi]), extra)
        # Into a regular file opened for appending: sendfile refuses
        # O_APPEND output, so the fast path hands over to the mapping.
        out = self.temp_file(b"head")
        os.chmod(out, 0o666)
        with open(out, "ab") as f:
            argv = [tool_path("sysv-shm"), "read", str(shmid), "--raw",
                    "--offset", "100", "--length", "9000"]
            if user is not None:
                argv = ["setpriv", "--reuid=" + user, "--regid=nogroup",
                        "--clear-groups", "--"] + argv
            p = subprocess.run(argv, stdout=f, stderr=subprocess.PIPE,
                               timeout=60)
        self.assertEqual((p.returncode, p.stderr), (0, b""))
        with open(out, "rb") as f:
            self.assertTrue(f.read() == b"head" + bytes(want[100:9100]))
        if shutil.which("strace") is None:
            return
        # Which path was taken: only the privileged one opens map_files and
        # sendfiles; the unprivileged one is refused and uses the mapping.
        copy = self.temp_file(b"")
        os.chmod(copy, 0o666)
        with open(copy, "wb") as f:
            rc, _, trace = self.traced(user, "read", shmid, "--raw", stdout=f)
        self.assertEqual(rc, 0, trace)
        with open(copy, "rb") as f:
            self.assertTrue(f.read() == bytes(want))
        opened = re.search(r'openat\(.*map_files/.*\) = \d+', trace)
        self.assertEqual(bool(opened), fast, trace)
        self.assertEqual(bool(re.search(r'^sendfile\(1, .*= \d+$', trace,
                                        re.M)), fast, trace)
        # Without the segment's file, a regular file is filled by vmsplice
        # of the mapping into a pipe and splice from there.
        self.assertEqual(bool(re.search(r'^vmsplice\(.*= \d+$', trace,
                                        re.M)), not fast, trace)
        # Into a pipe: neither (both would pass page references).
        rc, got, trace = self.traced(user, "read", shmid, "--raw")
        self.assertEqual(rc, 0, trace)
        self.assertTrue(got == bytes(want))
        self.assertNotIn("sendfile(", trace)
        self.assertNotIn("vmsplice(", trace)
        rc, _, trace = self.traced(user, "write", shmid, "--file", path)
        self.assertEqual(rc, 0, trace)
        self.assertEqual(bool(re.search(r'^sendfile\(.*= \d+$', trace,
                                        re.M)), fast, trace)
        want[0:4 + len(data)] = b"skip" + data
        self.assertTrue(segment_bytes(shmid) == bytes(want))

    @staticmethod
    def may_open_map_files():
        """Whether this process may open /proc/self/map_files entries (in
        a container, root may lack the capability in the initial user
        namespace that Linux asks for)."""
        d = "/proc/self/map_files"
        for name in os.listdir(d):
            try:
                os.close(os.open(os.path.join(d, name), os.O_RDONLY))
                return True
            except PermissionError:
                return False
            except OSError:
                continue
        return False

    @unittest.skipUnless(os.geteuid() == 0, "needs root (map_files)")
    def test_privileged_path_moves_exactly_the_region(self):
        if not self.may_open_map_files():
            self.skipTest("/proc/self/map_files cannot be opened here")
        self.check_both_paths(None, True)

    @unittest.skipUnless(os.geteuid() == 0, "needs root (setpriv nobody)")
    def test_unprivileged_path_moves_exactly_the_region(self):
        self.check_both_paths("nobody", False)


# ---------------------------------------------------------------------------
class LargeDataTest(ShmTestCase):
    SIZE = 8 << 20

    def test_file_of_8_mib_round_trips(self):
        shmid = self.make_segment("8M")
        data = os.urandom(self.SIZE)
        path = self.temp_file(data)
        doc = self.assertOk(self.shm("write", shmid, "--file", path, timeout=60))
        self.assertEqual(doc["written"], self.SIZE)
        r = self.shm("read", shmid, "--raw", timeout=60)
        self.assertEqual((r.rc, r.err), (0, b""))
        self.assertEqual(len(r.out), self.SIZE)
        self.assertTrue(r.out == data, "raw read differs from the file")
        self.assertTrue(segment_bytes(shmid) == data)

    def test_large_json_reads_stream_and_round_trip(self):
        # Above 1 MiB the JSON document is streamed in pieces: it must be
        # the same document, and a UTF-8 failure must still print nothing.
        size = 3 * 1024 * 1024 + 5
        shmid = self.make_segment(size)
        payload = os.urandom(size)
        self.assertOk(self.shm("write", shmid, input=payload))
        for encoding, decode in (("base64", base64.b64decode),
                                 ("hex", bytes.fromhex)):
            doc = self.assertOk(self.shm("read", shmid, "--encoding", encoding))
            self.assertEqual(doc["length"], size)
            self.assertEqual(decode(doc["data"]), payload, encoding)
        pretty = self.assertOk(self.shm("read", shmid, "--pretty"))
        self.assertEqual(base64.b64decode(pretty["data"]), payload)
        self.assertError(self.shm("read", shmid, "--encoding", "utf8"), 1, "EILSEQ")
        unit = "h\u00e9\"\\\n".encode()  # 6 bytes: a 2-byte character, 3 that JSON escapes
        text = unit * (size // len(unit))
        text += b"x" * (size - len(text))
        self.assertOk(self.shm("write", shmid, input=text))
        doc = self.assertOk(self.shm("read", shmid, "--encoding", "utf8"))
        self.assertEqual(doc["data"].encode(), text)

    def test_stdin_payload_of_exactly_the_size_and_one_more(self):
        shmid = self.make_segment("8M")
        data = os.urandom(self.SIZE)
        doc = self.assertOk(self.shm("write", shmid, input=data, timeout=60))
        self.assertEqual(doc["written"], self.SIZE)
        self.assertTrue(segment_bytes(shmid) == data)
        r = self.shm("write", shmid, input=os.urandom(self.SIZE + 1), timeout=60)
        self.assertError(r, 1, "EFBIG")
        self.assertTrue(segment_bytes(shmid) == data, "a failed write changed it")
        # A file one byte too long is refused the same way.
        path = self.temp_file(os.urandom(self.SIZE + 1))
        self.assertError(self.shm("write", shmid, "--file", path, "--zero-fill"),
                         1, "EFBIG")
        self.assertTrue(segment_bytes(shmid) == data, "a failed write changed it")


# ---------------------------------------------------------------------------
class CrossCheckTest(ShmTestCase):

    def test_ipcmk_segment_is_usable(self):
        out = subprocess.run(["ipcmk", "-M", "4096"], capture_output=True,
                             text=True, check=True).stdout
        m = re.search(r"Shared memory id: (\d+)", out)
        self.assertIsNotNone(m, out)
        shmid = self.track_shm(m.group(1))
        st = self.stat(shmid)
        self.assertEqual((st["size"], st["mode"]), (4096, 0o644))  # ipcmk's default
        self.assertEqual(st["key"], int(shm_row(shmid)["key"]) & 0xFFFFFFFF)
        data = os.urandom(4096)
        self.assertOk(self.shm("write", shmid, "--hex", data.hex()))
        self.assertEqual(segment_bytes(shmid), data)
        r = self.shm("read", shmid, "--raw")
        self.assertEqual(r.out, data)
        self.assertOk(self.shm("rm", shmid))
        self.assertSegmentGone(shmid)

    def _holder(self, shmid):
        return self.start("attach", shmid, "--hold", 30)

    def test_ipcs_and_lsipc_agree(self):
        shmid, key = self.keyed(5000, "--mode", "0640")
        self._holder(shmid)
        st = self.stat(shmid)
        self.assertEqual(st["nattch"], 1)
        # ipcs -m: key shmid owner perms bytes nattch [status]
        out = subprocess.run(["ipcs", "-m"], capture_output=True, text=True,
                             check=True).stdout
        rows = [l.split() for l in out.splitlines()
                if l.split()[1:2] == [str(shmid)]]
        self.assertEqual(len(rows), 1, out)
        row = rows[0]
        self.assertEqual(int(row[0], 16), st["key"])
        self.assertEqual(row[0], st["key_hex"])
        self.assertEqual(row[2], pwd.getpwuid(st["uid"]).pw_name)
        self.assertEqual(int(row[3], 8), st["mode"])
        self.assertEqual(int(row[4]), st["size"])
        self.assertEqual(int(row[5]), st["nattch"])
        # lsipc -m --json -b: the same values, as strings.
        out = subprocess.run(["lsipc", "-m", "--json", "-b"],
                             capture_output=True, text=True, check=True).stdout
        entries = [e for e in json.loads(out)["sharedmemory"]
                   if int(e["id"]) == shmid]
        self.assertEqual(len(entries), 1, out)
        e = entries[0]
        self.assertEqual(int(e["key"], 16), st["key"])
        self.assertEqual(int(e["size"]), st["size"])
        self.assertEqual(symbolic_perms_to_int(e["perms"]), st["mode"])
        self.assertEqual(int(e["nattch"]), st["nattch"])
        self.assertEqual(int(e["cpid"]), st["cpid"])
        self.assertEqual(int(e["lpid"]), st["lpid"])
        self.assertEqual(e["owner"], pwd.getpwuid(st["uid"]).pw_name)

    def test_stat_agrees_with_proc(self):
        shmid, key = self.keyed(7000, "--mode", "0604")
        self.assertOk(self.shm("set", shmid, "--uid", NOBODY, "--gid", 4243))
        self.assertOk(self.shm("lock", shmid))
        self.assertOk(self.shm("write", shmid, "--data", "x"))
        self._holder(shmid)
        for locked_state in (True, False):
            st = self.stat(shmid)
            row = shm_row(shmid)
            perms = int(row["perms"], 8)
            self.assertEqual(st["id"], int(row["shmid"]))
            self.assertEqual(st["key"], int(row["key"]) & 0xFFFFFFFF)
            self.assertEqual(st["mode"], perms & 0o777)
            self.assertEqual(st["locked"], bool(perms & 0o2000))
            self.assertEqual(st["dest"], bool(perms & 0o1000))
            self.assertIs(st["locked"], locked_state)
            for field, column in (("size", "size"), ("cpid", "cpid"),
                                  ("lpid", "lpid"), ("nattch", "nattch"),
                                  ("uid", "uid"), ("gid", "gid"),
                                  ("cuid", "cuid"), ("cgid", "cgid"),
                                  ("atime", "atime"), ("dtime", "dtime"),
                                  ("ctime", "ctime")):
                self.assertEqual(st[field], int(row[column]), field)
            self.assertEqual((st["uid"], st["gid"], st["nattch"]), (NOBODY, 4243, 1))
            self.assertOk(self.shm("unlock", shmid))

    def test_sysv_ipc_sees_our_bytes_and_we_see_its(self):
        if sysv_ipc is None:
            self.fail("python3-sysv-ipc is needed: apt-get install python3-sysv-ipc")
        key = fresh_key()
        mem = sysv_ipc.SharedMemory(key, sysv_ipc.IPC_CREX, mode=0o600, size=8192)
        self.track_shm(mem.id)
        self.addCleanup(lambda: mem.attached and mem.detach())
        # Theirs, read by us.
        payload = os.urandom(300)
        mem.write(payload, 100)
        st = self.assertOk(self.shm("stat", "--key", hex(key)))
        self.assertEqual((st["id"], st["size"], st["mode"]), (mem.id, 8192, 0o600))
        self.assertEqual(st["nattch"], 1)
        r = self.shm("read", mem.id, "--raw", "--offset", 100, "--length", 300)
        self.assertEqual(r.out, payload)
        # Ours, read by them (through their live attachment).
        ours = os.urandom(8192)
        path = self.temp_file(ours)
        self.assertOk(self.shm("write", mem.id, "--file", path))
        self.assertEqual(mem.read(), ours)
        self.assertOk(self.shm("write", mem.id, "--offset", 8000, "--data", "tail"))
        self.assertEqual(mem.read(4, 8000), b"tail")
        self.assertOk(self.shm("set", mem.id, "--mode", "0640"))
        self.assertEqual(mem.mode & 0o777, 0o640)
        mem.detach()
        self.assertOk(self.shm("rm", "--key", hex(key)))
        with self.assertRaises((sysv_ipc.ExistentialError, ValueError)):
            sysv_ipc.attach(mem.id)


# ---------------------------------------------------------------------------
# The bad-input table: (name, argv, exit status, error code(s), options).
# argv may name {id} and {key} (the target segment, 4096 bytes, 0600, root),
# {newkey} (a key no segment has), {bigfile} (4097 bytes), {keypath}.
# Options: input (stdin bytes), user ("nobody"). The refusals to an
# unprivileged user are in test_security.py, which runs them through
# BadInputHarness.
USAGE = "EINVAL"
BAD_CASES = [
    # sizes
    ("size with unknown suffix", ["create", "--size", "12Q", "--key", "{newkey}", "--excl"], 2, USAGE),
    ("negative size", ["create", "--size", "-1", "--key", "{newkey}", "--excl"], 2, USAGE),
    ("zero size", ["create", "--size", "0", "--key", "{newkey}", "--excl"], 2, USAGE),
    ("size overflowing 64 bits", ["create", "--size", "99999999999999999999", "--key", "{newkey}", "--excl"], 2, USAGE),
    ("size overflowing with a suffix", ["create", "--size", "16E", "--key", "{newkey}", "--excl"], 2, USAGE),
    ("size with junk after the suffix", ["create", "--size", "4K4", "--key", "{newkey}", "--excl"], 2, USAGE),
    ("empty size", ["create", "--size", "", "--key", "{newkey}", "--excl"], 2, USAGE),
    ("size in hex", ["create", "--size", "0x10", "--key", "{newkey}", "--excl"], 2, USAGE),
    ("missing --size", ["create", "--key", "{newkey}", "--excl"], 2, USAGE),
    # keys
    ("key with bad hex digits", ["create", "--size", "4096", "--key", "0xZZ"], 2, USAGE),
    ("hex key over 32 bits", ["create", "--size", "4096", "--key", "0x1ffffffff"], 2, USAGE),
    ("decimal key over 32 bits", ["create", "--size", "4096", "--key", "4294967296"], 2, USAGE),
    # modes
    ("mode with a non-octal digit", ["create", "--size", "4096", "--key", "{newkey}", "--mode", "0999"], 2, USAGE),
    ("mode beyond 0777", ["create", "--size", "4096", "--key", "{newkey}", "--mode", "01000"], 2, USAGE),
    ("symbolic mode", ["create", "--size", "4096", "--key", "{newkey}", "--mode", "rw"], 2, USAGE),
    # create conflicts and failures
    ("--key with --private", ["create", "--size", "4096", "--key", "{newkey}", "--private"], 2, USAGE),
    ("--proj-id without --key-path", ["create", "--size", "4096", "--proj-id", "3"], 2, USAGE),
    ("--key-path without --proj-id", ["create", "--size", "4096", "--key-path", "{keypath}"], 2, USAGE),
    ("--proj-id 0", ["create", "--size", "4096", "--key-path", "{keypath}", "--proj-id", "0"], 2, USAGE),
    ("--proj-id 256", ["create", "--size", "4096", "--key-path", "{keypath}", "--proj-id", "256"], 2, USAGE),
    ("--key-path that does not exist", ["create", "--size", "4096", "--key-path", "/nonexistent/ipctk", "--proj-id", "3"], 1, "ENOENT"),
    ("--excl on an existing key", ["create", "--size", "4096", "--key", "{key}", "--excl"], 1, "EEXIST"),
    ("reopen with a larger size", ["create", "--size", "8192", "--key", "{key}"], 1, "EINVAL"),
    # targets
    ("unknown id", ["stat", str(UNUSED_ID)], 1, "EINVAL"),
    ("id too large", ["stat", "2147483648"], 2, USAGE),
    ("id overflowing", ["read", "99999999999999999999"], 2, USAGE),
    ("id not a number", ["read", "abc"], 2, USAGE),
    ("ID with --key", ["stat", "{id}", "--key", "{key}"], 2, USAGE),
    ("no target", ["read"], 2, USAGE),
    ("unknown key", ["read", "--key", "{newkey}"], 1, "ENOENT"),
    ("private key as a target", ["stat", "--key", "0"], 2, USAGE),
    # read
    ("read negative offset", ["read", "{id}", "--offset", "-1"], 2, USAGE),
    ("read negative length", ["read", "{id}", "--length", "-5"], 2, USAGE),
    ("read offset past the end", ["read", "{id}", "--offset", "4097"], 1, "ERANGE"),
    ("read offset+length past the end", ["read", "{id}", "--offset", "4000", "--length", "97"], 1, "ERANGE"),
    ("read length past the end", ["read", "{id}", "--length", "4097", "--raw"], 1, "ERANGE"),
    ("read offset near 2^64", ["read", "{id}", "--offset", "18446744073709551615", "--length", "2"], 1, "ERANGE"),
    ("read offset overflowing", ["read", "{id}", "--offset", "99999999999999999999"], 2, USAGE),
    ("unknown encoding", ["read", "{id}", "--encoding", "rot13"], 2, USAGE),
    # The bytes must be read to learn they are not UTF-8: this one case
    # attaches (atime, lpid move); its content is still checked.
    ("utf8 read of binary data", ["read", "{id}", "--encoding", "utf8"], 1, "EILSEQ",
     {"reads": True}),
    # write
    ("--data with --hex", ["write", "{id}", "--data", "x", "--hex", "78"], 2, USAGE),
    ("--data with --base64", ["write", "{id}", "--data", "x", "--base64", "eA=="], 2, USAGE),
    ("--hex with --file", ["write", "{id}", "--hex", "78", "--file", "{bigfile}"], 2, USAGE),
    ("odd hex", ["write", "{id}", "--hex", "123"], 2, USAGE),
    ("non-hex digits", ["write", "{id}", "--hex", "zz"], 2, USAGE),
    ("base64 outside the alphabet", ["write", "{id}", "--base64", "!!!!"], 2, USAGE),
    ("base64 with wrong padding", ["write", "{id}", "--base64", "QQ="], 2, USAGE),
    ("base64 truncated", ["write", "{id}", "--base64", "QUJDR"], 2, USAGE),
    ("write negative offset", ["write", "{id}", "--offset", "-1", "--data", "x"], 2, USAGE),
    ("write negative length", ["write", "{id}", "--length", "-1", "--data", "x"], 2, USAGE),
    ("write offset past the end", ["write", "{id}", "--offset", "4097", "--data", "x"], 1, "ERANGE"),
    ("write offset+length past the end", ["write", "{id}", "--offset", "4090", "--length", "7", "--data", "1"], 1, "ERANGE"),
    ("write zero-fill past the end", ["write", "{id}", "--length", "4097", "--hex", "41", "--zero-fill"], 1, "ERANGE"),
    ("write offset near 2^64", ["write", "{id}", "--offset", "18446744073709551615", "--data", "x"], 1, "ERANGE"),
    ("data longer than the room at the offset", ["write", "{id}", "--offset", "4090", "--data", "1234567", "--zero-fill"], 1, "EFBIG"),
    ("data longer than --length", ["write", "{id}", "--length", "2", "--data", "abc", "--zero-fill"], 1, "EFBIG"),
    ("data longer than the segment", ["write", "{id}", "--hex", "ab" * 4097], 1, "EFBIG"),
    ("stdin longer than the room", ["write", "{id}", "--offset", "4000", "--zero-fill"], 1, "EFBIG", {"input": b"y" * 97}),
    ("file longer than the segment", ["write", "{id}", "--file", "{bigfile}"], 1, "EFBIG"),
    ("file that does not exist", ["write", "{id}", "--file", "/nonexistent/ipctk"], 1, "ENOENT"),
    # attach
    ("--hold with -- COMMAND", ["attach", "{id}", "--hold", "1", "--", "true"], 2, USAGE),
    ("negative --hold", ["attach", "{id}", "--hold", "-1"], 2, USAGE),
    ("--hold not a number", ["attach", "{id}", "--hold", "inf"], 2, USAGE),
    ("-- with nothing after it", ["attach", "{id}", "--"], 2, USAGE),
    # rm: all or nothing
    ("rm of a good and an unknown id", ["rm", "{id}", str(UNUSED_ID)], 1, "EINVAL"),
    ("rm of a good id and an unknown key", ["rm", "{id}", "--key", "{newkey}"], 1, "ENOENT"),
    ("rm of a good and a malformed id", ["rm", "{id}", "abc"], 2, USAGE),
    ("rm of nothing", ["rm"], 2, USAGE),
    # set
    ("set of nothing", ["set", "{id}"], 2, USAGE),
    ("set bad mode", ["set", "{id}", "--mode", "0999"], 2, USAGE),
    ("set mode beyond 0777", ["set", "{id}", "--mode", "01000", "--uid", "65534"], 2, USAGE),
    ("set uid -1 (means unchanged)", ["set", "{id}", "--uid", "4294967295"], 2, USAGE),
    ("set negative uid", ["set", "{id}", "--mode", "0666", "--uid", "-1"], 2, USAGE),
    ("set gid not a number", ["set", "{id}", "--mode", "0666", "--gid", "staff"], 2, USAGE),
    ("set on an unknown id", ["set", str(UNUSED_ID), "--mode", "0666"], 1, "EINVAL"),
    ("lock of an unknown id", ["lock", str(UNUSED_ID)], 1, "EINVAL"),
    # the command line
    ("unknown subcommand", ["frobnicate", "{id}"], 2, USAGE),
    ("unknown flag", ["read", "{id}", "--frob"], 2, USAGE),
    ("-- COMMAND on a subcommand that runs none", ["stat", "{id}", "--", "true"], 2, USAGE),
    ("no subcommand", [], 2, USAGE),
    ("list with a bad owner", ["list", "--owner", "root"], 2, USAGE),
    ("list with a negative creator pid", ["list", "--creator-pid", "-3"], 2, USAGE),
    ("list with a bad key", ["list", "--key", "0xZZ"], 2, USAGE),
]


class BadInputHarness(ShmTestCase):
    """Runs a table of refused invocations against a fresh target segment
    and checks each left it as it was (test_security.py runs its own tables
    through it too)."""

    def snapshot(self, shmid):  # noqa: D401
        """What must not change: /proc's view (without the times and pids
        that any attach changes) and every byte."""
        row = shm_row(shmid)
        if row is None:
            return None
        kept = {k: row[k] for k in ("key", "perms", "size", "uid", "gid",
                                    "cuid", "cgid", "ctime")}
        return kept, segment_bytes(shmid)

    def run_table(self, cases):
        content = b"\xff" + os.urandom(4095)   # never valid UTF-8

        def fresh_target():
            shmid, key = self.keyed(4096)
            segment_fill(shmid, content)
            return shmid, key, self.snapshot(shmid)

        shmid, key, baseline = fresh_target()
        newkey = fresh_key()
        bigfile = self.temp_file(os.urandom(4097))
        keypath = self.temp_file(b"key path")
        seen = set()
        for case in cases:
            name, argv, status, codes = case[:4]
            options = dict(case[4]) if len(case) > 4 else {}
            reads = options.pop("reads", False)
            self.assertNotIn(name, seen)
            seen.add(name)
            if isinstance(codes, str):
                codes = (codes,)
            if self.snapshot(shmid) != baseline:
                # An earlier case failed and changed it: start the next one
                # from a good target, so that each failure is reported once.
                subprocess.run(["ipcrm", "-m", str(shmid)],
                               stderr=subprocess.DEVNULL)
                shmid, key, baseline = fresh_target()
            names = dict(id=shmid, key=hex(key), newkey=hex(newkey),
                         bigfile=bigfile, keypath=keypath)
            with self.subTest(name):
                self.assertEqual(baseline[1], content)
                args = [a.format(**names) for a in argv]
                before = proc_state(shmid)
                r = self.shm(*args, **options)
                # A failed command must not even attach: the times and the
                # last pid are compared before anything reads the bytes.
                after_state = proc_state(shmid)
                made_by_case = [row for row in proc_sysvipc("shm")
                                if int(row["cpid"]) == r.pid]
                for row in made_by_case:
                    self.track_shm(row["shmid"])
                try:
                    self.assertEqual(made_by_case, [],
                                     "a failed command made a segment")
                    if before is not None and not reads:
                        self.assertEqual(after_state, before,
                                         "the segment was touched")
                    err = self.assertError(r, status)
                    self.assertIn(err["code"], codes, r)
                    self.assertEqual(errno.errorcode.get(err["errno"]),
                                     err["code"], r)
                    self.assertTrue(err["message"], r)
                    if status == 2:
                        self.assertEqual(err["op"], "usage", r)
                    else:
                        self.assertNotEqual(err["op"], "usage", r)
                    after = self.snapshot(shmid)
                    self.assertIsNotNone(after, "the segment was removed")
                    self.assertEqual(after[0], baseline[0])
                    self.assertTrue(after[1] == baseline[1], "its bytes changed")
                    self.assertEqual(self.stat(shmid)["key"], key)
                finally:
                    made = rows_with_key(newkey)
                    for row in made:
                        self.track_shm(row["shmid"])
                self.assertEqual(made, [], "a failed create made a segment")


class BadInputTest(BadInputHarness):

    def test_bad_input_table(self):
        self.assertGreaterEqual(len(BAD_CASES), 30)
        self.run_table(BAD_CASES)


if __name__ == "__main__":
    unittest.main(verbosity=2)
