"""--table: the views for people say what the JSON says, and what ipcs(1)
says, of live objects; the subcommands' --help show examples that use
only flags the subcommand has."""

import grp
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ipctk_test import IpcTestCase, run, tool_path, user_name  # noqa: E402
from test_docs import TOOLS, help_sections, run_help, spec  # noqa: E402
from test_shmctl_lock import LockTestCase, read_line  # noqa: E402


def parse_table(text):
    """Rows of a table as lists of cells: columns are two blanks or more
    apart, and no cell holds two blanks in a row (an empty one is "-")."""
    lines = text.splitlines()
    rows = [re.split(r" {2,}", line.strip()) for line in lines if line.strip()]
    return rows


def cell_spans(line):
    """(start, end) of each cell of a line, in characters."""
    return [m.span() for m in re.finditer(r"\S+(?: \S+)*", line)]


def table_dicts(text):
    """The rows of a table with headings, as {heading: cell}, after checking
    that every cell is in line with its heading: starting where it starts
    (text) or ending where it ends (numbers)."""
    lines = [line for line in text.splitlines() if line.strip()]
    head = cell_spans(lines[0])
    names = [lines[0][a:b] for a, b in head]
    rows = []
    for line in lines[1:]:
        spans = cell_spans(line)
        assert len(spans) == len(head), (lines[0], line)
        for (ha, hb), (a, b) in zip(head, spans):
            assert a == ha or b == hb, ("out of line", lines[0], line)
        rows.append(dict(zip(names, (line[a:b] for a, b in spans))))
    return rows


def fields(text):
    """A FIELD VALUE table as {field: value}."""
    rows = parse_table(text)
    assert rows[0] == ["FIELD", "VALUE"], rows[0]
    return {row[0]: row[1] for row in rows[1:]}


def local(t):
    return "-" if t == 0 else time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(t))


def group_name(gid):
    try:
        return grp.getgrgid(gid).gr_name
    except KeyError:
        return str(gid)


def named(name, number):
    return name if name == str(number) else "%s (%d)" % (name, number)


def comm(pid):
    try:
        with open("/proc/%d/comm" % pid) as f:
            return f.read().rstrip("\n")
    except OSError:
        return None


def process(pid):
    if pid == 0:
        return "-"
    name = comm(pid)
    return "%s (%d)" % (name, pid) if name else str(pid)


class ShmTableTest(IpcTestCase):

    def attached_segment(self):
        """A keyed segment with a holder attached (nattch 1), its holder,
        and the segment's id."""
        shmid = self.make_segment(8192 + 100, "--mode", "0640")
        holder = subprocess.Popen(
            [tool_path("sysv-shm"), "attach", str(shmid)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE)
        self.addCleanup(holder.wait)
        self.addCleanup(holder.stdin.close)
        self.assertTrue(holder.stdout.readline())  # attached
        holder.stdout.close()
        holder.stderr.close()
        return shmid, holder

    def test_list_says_what_the_json_says(self):
        shmid, holder = self.attached_segment()
        other = self.make_segment(1 << 20)
        self.assertOk(self.shm("rm", shmid))  # dest, deferred while attached
        doc = self.assertOk(self.shm("list"))
        for extra, exact in (((), False), (("--bytes",), True)):
            r = self.shm("list", "--table", *extra)
            self.assertEqual((r.rc, r.err), (0, b""), r)
            rows = {int(row["ID"]): row for row in table_dicts(r.out.decode())}
            for seg in doc["segments"]:
                if seg["id"] not in (shmid, other):
                    continue  # others may come and go meanwhile
                row = rows[seg["id"]]
                self.assertEqual(row["KEY"], seg["key_hex"])
                self.assertEqual(row["OWNER"], user_name(seg["uid"]))
                self.assertEqual(row["GROUP"], group_name(seg["gid"]))
                self.assertEqual(row["PERMS"], seg["mode_octal"])
                self.assertEqual(row["NATTCH"], str(seg["nattch"]))
                self.assertEqual(row["CPID"], str(seg["cpid"]))
                self.assertEqual(row["LPID"], str(seg["lpid"]))
                self.assertEqual(row["CHANGED"], local(seg["ctime"]))
                status = ",".join(s for s in ("dest", "locked") if seg[s])
                self.assertEqual(row["STATUS"], status or "-")
                if exact:
                    self.assertEqual(row["SIZE"], str(seg["size"]))
            self.assertEqual(rows[shmid]["STATUS"], "dest")
            self.assertEqual(rows[shmid]["NATTCH"], "1")
            self.assertEqual(rows[shmid]["LPID"], str(holder.pid))
            self.assertEqual(rows[other]["SIZE"], "1048576" if exact else "1M")
            self.assertEqual(rows[shmid]["SIZE"], "8292" if exact else "8.1K")

    def test_list_has_what_ipcs_shows(self):
        shmid, _ = self.attached_segment()
        out = subprocess.run(["ipcs", "-m"], check=True, text=True,
                             stdout=subprocess.PIPE).stdout
        ipcs = None
        for line in out.splitlines():
            f = line.split()
            if len(f) >= 6 and f[1] == str(shmid):
                ipcs = f
        self.assertIsNotNone(ipcs, out)
        r = self.shm("list", "--table", "--bytes")
        row = {int(x["ID"]): x for x in table_dicts(r.out.decode())}[shmid]
        # key shmid owner perms bytes nattch [status]
        self.assertEqual(int(row["KEY"], 16), int(ipcs[0], 16))
        self.assertEqual(row["OWNER"], ipcs[2])
        self.assertEqual(int(row["PERMS"], 8), int(ipcs[3], 8))
        self.assertEqual(row["SIZE"], ipcs[4])
        self.assertEqual(row["NATTCH"], ipcs[5])
        self.assertEqual(row["STATUS"], " ".join(ipcs[6:]) or "-")

    def test_no_headings(self):
        shmid = self.make_segment(4096)
        with_head = self.shm("list", "--table", "--key", "0x0").out.decode()
        bare = self.shm("list", "--table", "--no-headings").out.decode()
        self.assertTrue(with_head.startswith("KEY "), with_head)
        self.assertFalse(bare.startswith("KEY"), bare)
        ids = [int(row[1]) for row in parse_table(bare)]
        self.assertIn(shmid, ids)
        # Short flags cluster: -bt is -b -t.
        self.assertEqual(fields(self.shm("stat", shmid, "-bt").out.decode())
                         ["size"], "4096")
        one = self.shm("stat", shmid, "-t", "--no-headings").out.decode()
        self.assertTrue(one.startswith("id "), one)
        self.assertNotIn("FIELD", one)

    def test_stat_has_a_line_per_field(self):
        shmid, holder = self.attached_segment()
        doc = self.assertOk(self.shm("stat", shmid))
        r = self.shm("stat", shmid, "--table", "-b")
        self.assertEqual((r.rc, r.err), (0, b""), r)
        f = fields(r.out.decode())
        self.assertEqual(f["id"], str(doc["id"]))
        self.assertEqual(f["key_hex"], doc["key_hex"])
        self.assertEqual(f["mode_octal"], doc["mode_octal"] + " rw-r-----")
        self.assertEqual(f["uid"], named(user_name(doc["uid"]), doc["uid"]))
        self.assertEqual(f["gid"], named(group_name(doc["gid"]), doc["gid"]))
        self.assertEqual(f["cuid"], named(user_name(doc["cuid"]), doc["cuid"]))
        self.assertEqual(f["cgid"], named(group_name(doc["cgid"]), doc["cgid"]))
        self.assertEqual(f["size"], str(doc["size"]))
        self.assertEqual(f["nattch"], "1")
        for t in ("atime", "dtime", "ctime"):
            self.assertEqual(f[t], local(doc[t]), t)
        self.assertEqual(f["lpid"], "sysv-shm (%d)" % holder.pid)
        self.assertEqual(f["cpid"], process(doc["cpid"]))
        self.assertEqual((f["dest"], f["locked"]), ("no", "no"))
        self.assertEqual(set(f), {"id", "key_hex", "mode_octal", "uid", "gid",
                                  "cuid", "cgid", "size", "nattch", "atime",
                                  "dtime", "ctime", "cpid", "lpid", "dest",
                                  "locked"})

    def test_info_shows_the_limits(self):
        doc = self.assertOk(self.shm("info"))
        r = self.shm("info", "--table", "--bytes")
        self.assertEqual((r.rc, r.err), (0, b""), r)
        text = r.out.decode()
        limits, rest = text.split("\n\n")
        rows = {row["RESOURCE"]: row for row in table_dicts(limits)}
        self.assertEqual(set(rows), {"SHMMNI", "SHMALL", "SHMMAX", "SHMMIN",
                                     "SHMSEG"})
        for name, row in rows.items():
            self.assertEqual(row["LIMIT"], str(doc["limits"][name.lower()]))
        # Usage moves with other tests' segments: the share is the table's
        # own USED over LIMIT.
        for name in ("SHMMNI", "SHMALL"):
            used, limit = int(rows[name]["USED"]), int(rows[name]["LIMIT"])
            self.assertEqual(rows[name]["USE%"], "%.2f%%" % (100.0 * used / limit))
        self.assertEqual(rows["SHMMAX"]["USED"], "-")
        self.assertEqual(fields(rest)["page_size"], str(doc["page_size"]))
        human = fields(self.shm("info", "-t").out.decode().split("\n\n")[1])
        self.assertEqual(human["page_size"], "%dK" % (doc["page_size"] // 1024))

    def test_table_flags_are_usage_errors_alone_or_elsewhere(self):
        self.assertError(self.shm("list", "--no-headings"), 2, "EINVAL")
        self.assertError(self.shm("list", "--bytes"), 2, "EINVAL")
        self.assertError(self.shm("create", "--size", "4K", "--private",
                                  "--table"), 2, "EINVAL")
        self.assertError(run("sysv-sem", "stat", "0", "--table", "--bytes"),
                         2, "EINVAL")

    def test_a_failed_table_command_prints_nothing(self):
        r = self.shm("stat", "2147483647", "--table")
        self.assertEqual(r.out, b"")
        self.assertIn(r.rc, (1,))
        self.assertOneErrorLine(r)


    def test_processes_names_who_has_it_attached(self):
        shmid, holder = self.attached_segment()
        doc = self.assertOk(self.shm("stat", shmid, "--processes"))
        self.assertEqual(doc["attached"],
                         [{"pid": holder.pid, "command": "sysv-shm"}])
        self.assertEqual(doc["nattch"], 1)
        self.assertIsInstance(doc["attached_unreadable"], int)
        r = self.shm("stat", shmid, "--processes", "--table")
        head, procs = r.out.decode().split("\n\n")
        self.assertEqual(fields(head)["attached_unreadable"],
                         str(doc["attached_unreadable"]))
        self.assertEqual(table_dicts(procs), [
            {"ATTACHED-PID": str(holder.pid), "COMMAND": "sysv-shm"}])
        # Another user may not look into root's processes: the holder is
        # not listed, and counted as unreadable.
        if os.geteuid() == 0:
            self.assertOk(self.shm("set", shmid, "--mode", "0644"))
            doc = self.assertOk(self.shm("stat", shmid, "--processes",
                                         user="nobody"))
            self.assertEqual(doc["attached"], [])
            self.assertGreaterEqual(doc["attached_unreadable"], 1)
        # Detached: no longer listed.
        holder.stdin.close()
        holder.wait()
        doc = self.assertOk(self.shm("stat", shmid, "--processes"))
        self.assertEqual((doc["attached"], doc["nattch"]), ([], 0))
        # Without the flag the fields are not there at all.
        self.assertNotIn("attached", self.assertOk(self.shm("stat", shmid)))


class NamespaceTest(IpcTestCase):
    """Ids are per IPC namespace: --processes leaves out processes of
    another one (a container) that use "the same" id."""

    def in_new_namespace(self, script, background=False):
        env = dict(os.environ, PATH=os.path.dirname(tool_path("sysv-shm")) +
                   ":" + os.environ.get("PATH", "/usr/bin:/bin"))
        argv = ["unshare", "--ipc", "sh", "-c", script]
        if background:
            p = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE)
            self.addCleanup(p.stderr.close)
            self.addCleanup(p.stdout.close)
            self.addCleanup(p.wait)
            self.addCleanup(p.kill)
            return p
        return subprocess.run(argv, env=env, capture_output=True, timeout=30)

    def setUp(self):
        super().setUp()
        if os.geteuid() != 0 or shutil.which("unshare") is None:
            self.skipTest("needs root and unshare(1)")
        probe = self.in_new_namespace("true")
        if probe.returncode != 0:
            self.skipTest("unshare --ipc is not allowed here: %r" % probe.stderr)

    def test_segment_users_of_another_namespace_are_not_ours(self):
        # There, the first segment is id 0; so it is in the second one.
        holder = self.in_new_namespace(
            "sysv-shm create --size 4096 --private >/dev/null && "
            "exec sysv-shm attach 0 --hold 60", background=True)
        self.assertTrue(holder.stdout.readline(), holder)  # attached
        r = self.in_new_namespace(
            "sysv-shm create --size 4096 --private >/dev/null && "
            "sysv-shm stat 0 --processes")
        self.assertEqual(r.returncode, 0, r)
        doc = json.loads(r.stdout)
        self.assertEqual((doc["nattch"], doc["attached"]), (0, []))

    def test_waiters_of_another_namespace_are_not_ours(self):
        waiter = self.in_new_namespace(
            "sysv-sem get --private --init 0 >/dev/null && "
            "echo ready && exec sysv-sem P 0", background=True)
        self.assertEqual(waiter.stdout.readline(), b"ready\n")
        # Wait until it is blocked in semop there ("S" in /proc).
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with open("/proc/%d/wchan" % waiter.pid) as f:
                if "sem" in f.read():
                    break
            time.sleep(0.02)
        r = self.in_new_namespace(
            "sysv-sem get --private --init 1 >/dev/null && "
            "sysv-sem stat 0 --processes")
        self.assertEqual(r.returncode, 0, r)
        doc = json.loads(r.stdout)
        self.assertEqual(doc["waiting"], [])


class SemTableTest(IpcTestCase):

    @unittest.skipUnless(os.geteuid() == 0, "reads other processes' memory")
    def test_processes_names_who_waits_and_for_what(self):
        semid = self.make_set(2, [0, 0])
        waiter = subprocess.Popen(
            [tool_path("sysv-sem"), "op", str(semid), "1:-1", "0:0:undo",
             "--", "true"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.addCleanup(waiter.wait)
        self.addCleanup(waiter.kill)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            doc = self.assertOk(self.sem("stat", semid, "--processes"))
            if doc["waiting"]:
                break
            time.sleep(0.02)
        self.assertEqual(doc["waiting"], [{
            "pid": waiter.pid, "tid": waiter.pid, "command": "sysv-sem",
            "operations": [
                {"num": 1, "delta": -1, "undo": False, "nowait": False},
                {"num": 0, "delta": 0, "undo": True, "nowait": False}]}])
        text = self.sem("stat", semid, "--processes", "-t").out.decode()
        head, sems, waiting = text.split("\n\n")
        self.assertEqual(table_dicts(waiting), [{
            "WAITING-PID": str(waiter.pid), "TID": str(waiter.pid),
            "COMMAND": "sysv-sem", "OPERATIONS": "1:-1 0:0:undo"}])
        self.assertEqual(fields(head)["waiting_unreadable"],
                         str(doc["waiting_unreadable"]))
        # Released, it no longer waits.
        self.assertOk(self.sem("V", semid, 1))
        self.assertEqual(waiter.wait(timeout=10), 0)
        doc = self.assertOk(self.sem("stat", semid, "--processes"))
        self.assertEqual(doc["waiting"], [])

    def test_stat_shows_each_semaphore_and_who_waits(self):
        semid = self.make_set(3, [1, 0, 2])
        self.assertOk(self.sem("V", semid, 2))  # last op: this pid, gone
        waiter = subprocess.Popen(
            [tool_path("sysv-sem"), "P", str(semid), "1"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.addCleanup(waiter.wait)
        self.addCleanup(waiter.kill)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            doc = self.assertOk(self.sem("stat", semid))
            if doc["semaphores"][1]["ncnt"] == 1:
                break
            time.sleep(0.02)
        self.assertEqual(doc["semaphores"][1]["ncnt"], 1)
        r = self.sem("stat", semid, "--table")
        self.assertEqual((r.rc, r.err), (0, b""), r)
        head, sems = r.out.decode().split("\n\n")
        f = fields(head)
        self.assertEqual(f["id"], str(semid))
        self.assertEqual(f["nsems"], "3")
        self.assertEqual(f["otime"], local(doc["otime"]))
        self.assertEqual(f["ctime"], local(doc["ctime"]))
        rows = table_dicts(sems)
        self.assertEqual([r["NUM"] for r in rows], ["0", "1", "2"])
        for row, s in zip(rows, doc["semaphores"]):
            self.assertEqual((row["VALUE"], row["NCNT"], row["ZCNT"]),
                             (str(s["value"]), str(s["ncnt"]), str(s["zcnt"])))
            self.assertEqual(row["PID"], process(s["pid"]))
        self.assertEqual(rows[2]["VALUE"], "3")
        self.assertEqual(rows[1]["NCNT"], "1")

    def test_list_with_values(self):
        semid = self.make_set(3, [1, 0, 2])
        doc = self.assertOk(self.sem("list", "--values"))
        mine = [s for s in doc["sets"] if s["id"] == semid][0]
        for extra, cols in (((), 8), (("--values",), 11)):
            r = self.sem("list", "--table", *extra)
            self.assertEqual((r.rc, r.err), (0, b""), r)
            rows = {int(x["ID"]): x for x in table_dicts(r.out.decode())}
            row = rows[semid]
            self.assertEqual(len(row), cols)
            self.assertEqual(row["KEY"], mine["key_hex"])
            self.assertEqual(row["OWNER"], user_name(mine["uid"]))
            self.assertEqual(row["PERMS"], mine["mode_octal"])
            self.assertEqual(row["NSEMS"], "3")
            self.assertEqual(row["LAST-OP"], local(mine["otime"]))
        self.assertEqual(row["VALUES"], "1,0,2")
        self.assertEqual((row["NCNT"], row["ZCNT"]), ("0", "0"))
        # What ipcs -s says of it.
        out = subprocess.run(["ipcs", "-s"], check=True, text=True,
                             stdout=subprocess.PIPE).stdout
        ipcs = [l.split() for l in out.splitlines() if len(l.split()) >= 5 and
                l.split()[1] == str(semid)][0]
        self.assertEqual((row["OWNER"], int(row["PERMS"], 8), row["NSEMS"]),
                         (ipcs[2], int(ipcs[3], 8), ipcs[4]))

    def test_info_shows_the_limits(self):
        doc = self.assertOk(self.sem("info"))
        rows = {x["RESOURCE"]: x for x in
                table_dicts(self.sem("info", "-t").out.decode())}
        self.assertEqual(set(rows), {"SEMMNI", "SEMMNS", "SEMMSL", "SEMOPM",
                                     "SEMVMX", "SEMAEM"})
        for name, row in rows.items():
            self.assertEqual(row["LIMIT"], str(doc["limits"][name.lower()]))
        self.assertEqual(rows["SEMMSL"]["USED"], "-")


class LockTableTest(LockTestCase):
    backend = "shm"

    def lk(self, *args):
        return run("shmctl-lock", *args, "--path", self.path, env=self.env)

    def test_status_marks_held_and_stale_locks(self):
        self.assertOk(self.lk("init", "--locks", 64))
        self.assertOk(self.lk("alloc", 5))
        live = self.spawn_sh('shmctl-lock lock 3 --path "$P" >/dev/null || '
                             'exit 1; echo $$; exec sleep 300')
        live_pid = int(read_line(live))
        dead = self.spawn_sh('shmctl-lock lock 4 --path "$P" >/dev/null || '
                             'exit 1; echo $$; exec sleep 300')
        dead_pid = int(read_line(dead))
        os.killpg(dead.pid, signal.SIGKILL)
        dead.wait()
        doc = self.assertOk(self.lk("status"))
        r = self.lk("status", "--table")
        self.assertEqual((r.rc, r.err), (0, b""), r)
        text = r.out.decode()
        table, totals = text.split("\n\n")
        rows = table_dicts(table)
        self.assertEqual(len(rows), 64)
        for row, s in zip(rows, doc["status"]):
            self.assertEqual(row["ID"], str(s["id"]))
            self.assertEqual(row["ALLOCATED"], "yes" if s["allocated"] else "no")
            state = "STALE" if s["stale"] else "held" if s["locked"] else "free"
            self.assertEqual(row["STATE"], state)
            self.assertEqual(row["SINCE"], local(s["since"]) if s["since"]
                             else "-")
            if s["owner_pid"] is None:
                owner = "-"
            elif s["owner_alive"]:
                owner = "%s (%d)" % (comm(s["owner_pid"]), s["owner_pid"])
            else:
                owner = "%d (gone)" % s["owner_pid"]
            self.assertEqual(row["OWNER"], owner)
        self.assertEqual(rows[3]["STATE"], "held")
        self.assertEqual(rows[3]["OWNER"], "sleep (%d)" % live_pid)
        self.assertEqual(rows[4]["STATE"], "STALE")
        self.assertEqual(rows[4]["OWNER"], "%d (gone)" % dead_pid)
        self.assertEqual((rows[5]["ALLOCATED"], rows[5]["STATE"],
                          rows[5]["OWNER"]), ("yes", "free", "-"))
        t = doc["totals"]
        self.assertEqual(totals.strip(),
                         "64 shown; %d allocated, %d held, %d stale of 64 "
                         "locks in %s (shm)" % (t["allocated"], t["held"],
                                                t["stale"], self.path))
        self.assertEqual((t["held"], t["stale"]), (2, 1))
        # The filters pick the same locks as in JSON.
        r = self.lk("status", "--stale", "-t", "--no-headings")
        self.assertEqual([row[0] for row in parse_table(r.out.decode())], ["4"])
        r = self.lk("status", "4", "3", "--table")
        table, totals = r.out.decode().split("\n\n")
        self.assertEqual([x["ID"] for x in table_dicts(table)], ["4", "3"])
        self.assertIn("of 2 given", totals)

    def test_info(self):
        self.assertOk(self.lk("init", "--locks", 128))
        self.assertOk(self.lk("alloc"))
        doc = self.assertOk(self.lk("info"))
        f = fields(self.lk("info", "--table", "--bytes").out.decode())
        for name in ("path", "backend", "version", "locks", "size",
                     "allocated", "free", "held", "stale"):
            self.assertEqual(f[name], str(doc[name]), name)


SOURCE_DIR = os.environ.get("IPCTK_SOURCE_DIR", os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..", ".."))


def admin_blocks():
    """The code blocks of the README's section for admins, as lists of
    (command, output lines)."""
    with open(os.path.join(SOURCE_DIR, "README.md")) as f:
        text = f.read()
    section = text.split("\n## For admins", 1)[1].split("\n## ", 1)[0]
    steps = []
    for block in re.findall(r"^```\n(.*?)^```", section, re.S | re.M):
        for line in block.splitlines():
            if line.startswith("# "):
                steps.append((line[2:], []))
            else:
                steps[-1][1].append(line)
    return steps


def heading_lines(text):
    """The heading line of each table of a --table output (tables are
    separated by blank lines; a totals line is not a table)."""
    out = []
    for chunk in text.split("\n\n"):
        lines = [l for l in chunk.splitlines() if l.strip()]
        if lines and re.match(r"^[A-Z][A-Z%-]*(  +[A-Z][A-Z%-]*)*$", lines[0]):
            out.append(re.split(r" {2,}", lines[0].strip()))
    return out


class ReadmeAdminTest(LockTestCase):
    """The README's session for admins, run again on objects of this test:
    the same tables, with the same headings."""
    backend = "shm"

    def test_readme_tables_are_what_the_tools_print(self):
        shmid = self.make_segment(4096)
        semid = self.make_set(2, [1, 0])
        self.assertOk(run("shmctl-lock", "init", "--locks", 64, "--path",
                          self.path, env=self.env))
        ran = 0
        for command, output in admin_blocks():
            words = command.split()
            if words[0] not in TOOLS:
                continue
            words = [{"262173": str(shmid), "131105": str(semid),
                      "/ci-locks": self.path}.get(w, w) for w in words]
            r = run(*words, env=self.env)
            self.assertEqual((r.rc, r.err), (0, b""), (command, r))
            self.assertEqual(heading_lines(r.out.decode()),
                             heading_lines("\n".join(output)), command)
            ran += 1
        self.assertGreaterEqual(ran, 6)


class HelpExamplesTest(unittest.TestCase):
    """Every subcommand's --help ends with examples of itself that use only
    flags it has; so do the README's commands."""

    def test_readme_admin_commands_are_real(self):
        """The README's admin session uses flags the tools have, and its
        tables have a cell under every heading."""
        steps = admin_blocks()
        self.assertGreaterEqual(len(steps), 7)
        for command, output in steps:
            words = command.split()
            if words[0] not in TOOLS:
                continue
            flags = spec(words[0]).flags[words[1]]
            for w in words[2:]:
                if w.startswith("--"):
                    self.assertIn(w, flags, command)
            self.assertIn("--table", words, command)
            tables = "\n".join(output).split("\n\n")
            for t in tables:
                rows = parse_table(t)
                if rows and not rows[0][0][0].isdigit():
                    for row in rows[1:]:
                        self.assertEqual(len(row), len(rows[0]),
                                         (command, rows[0], row))

    def test_every_tool_prints_meson_s_version(self):
        with open(os.path.join(SOURCE_DIR, "meson.build")) as f:
            version = re.search(r"version:\s*'([^']+)'", f.read()).group(1)
        for tool in TOOLS:
            r = run(tool, "--version")
            self.assertEqual((r.rc, r.out.decode(), r.err),
                             (0, version + "\n", b""), tool)

    def test_every_subcommand_has_examples(self):
        for tool in TOOLS:
            for sub, flags in spec(tool).flags.items():
                text = run_help(tool, sub)
                examples = (help_sections(text).get("Example") or
                            help_sections(text).get("Examples") or [])
                self.assertTrue(examples, "%s %s --help has no example"
                                % (tool, sub))
                for line in examples:
                    words = line.split()
                    self.assertEqual(words[:2], [tool, sub], line)
                    # Up to "--" (a command to run) the flags are ours.
                    words = words[:words.index("--")] if "--" in words else words
                    for w in words[2:]:
                        if w.startswith("--"):
                            self.assertIn(w, flags, "%s: %s" % (line, w))
                        elif w.startswith("-") and not re.match(r"^-\d", w):
                            self.assertIn(w, ("-t", "-b"), line)


if __name__ == "__main__":
    unittest.main(verbosity=2)
