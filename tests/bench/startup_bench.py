#!/usr/bin/env python3
"""The per-invocation (start-up) cost of the three tools against their
peers: wall-clock medians, which the targets judge, and for each command
the user-space instructions and page faults of one invocation, which show
where the time goes (on a busy VM the wall clock is noisy; the counts are
not).

Not a test: it never asserts a timing. It exits non-zero only when
something went wrong (a command failed, a semaphore did not hold the value
it should have, a lock stayed held, or something it made was left behind).

Pairs (A = ipctk, B = peer):

  floor          a static `int main(){return 0;}` (built here with gcc) vs
                 /bin/true: the cost of exec itself
  stat           sysv-shm stat ID           vs ipcs -m -i ID
  create+rm      sysv-shm create --size 4096 + sysv-shm rm ID
                                            vs ipcmk -M 4096 + ipcrm -m ID
  V              sysv-sem V ID              vs ipcs -s -i ID
                                            vs python3 -c sysv_ipc release
                                            vs perl -e IPC::SysV semop
  lock -- true   shmctl-lock lock ID -- true
                                            vs flock FILE true
  lock + unlock  shmctl-lock lock ID + shmctl-lock unlock ID
                                            vs flock FILE true

Wall rows: one warm-up run of each side, then A B A B ... for --runs
(medians, ratio = A / B). Count rows, for the same pairs: the median of
--count-runs invocations of each side of the instructions retired in user
space (`perf stat -e instructions:u`, children included, where the CPU's
counters can be read; otherwise valgrind's callgrind, children traced)
and of the page faults (minor + major, from the rusage that wait4(2)
returns, the child's reaped children included). Two-invocation sides add
their two counts.

Objects: one segment (stat), the segments create+rm makes and removes,
one semaphore set with a random key (sysv_ipc opens by key), one lock
segment /dev/shm/ipctk-startup-PID-RANDOM (SHMCTL_LOCK_PATH is set to it)
and a temp dir with flock's file and the static no-op. All removed at the
end, also on an error, Ctrl-C, SIGTERM or SIGHUP.
"""

import argparse
import json
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
from benchlib import (add_json_arg, DEFAULT_BUILD_DIR, BenchBase, BenchError,
                      Row, linkage, run_main)

PYTHON = "/usr/bin/python3"
PERL = "/usr/bin/perl"
LOCK_ID = 7


class CountRow(Row):
    """Samples are counts per invocation (instructions or page faults);
    ratio = median A / median B (lower is better). No target: these rows
    say where the wall time goes."""

    unit = ""
    method = ""

    def cell(self, med):
        if med >= 10000:
            return "%.1fK %s" % (med / 1000, self.unit)
        return "%g %s" % (med, self.unit)

    def span(self, sample):
        return "%g" % sample


def count_row_class(unit, method):
    return type("CountRow", (CountRow,), {"unit": unit, "method": method})


class Bench(BenchBase):
    ratio_note = ("Ratio = ipctk / peer on the median (wall time per "
                  "invocation; instructions; page faults). Two-invocation "
                  "sides add their times and counts.")

    def __init__(self, args):
        super().__init__(args)
        b = args.build_dir
        self.shm = os.path.join(b, "sysv-shm")
        self.sem = os.path.join(b, "sysv-sem")
        self.lock = os.path.join(b, "shmctl-lock")
        self.rng = random.Random()
        self.tag = "ipctk-startup-%d-%08x" % (os.getpid(),
                                              self.rng.getrandbits(32))
        self.lock_path = "/" + self.tag
        self.lock_made = False
        os.environ["SHMCTL_LOCK_PATH"] = self.lock_path  # never the default
        self.segs = set()      # segment ids this run made and has not removed
        self.sets = set()      # semaphore set ids this run made
        self.tried_keys = set()
        self.shm_before = {r["shmid"] for r in self.proc("shm")}
        self.sem_before = {r["semid"] for r in self.proc("sem")}
        self.v_made = 0        # V's made on semaphore 0 of the set
        self.counter = None    # "perf" or "callgrind"
        self.cg_dir = None

    # -- helpers ------------------------------------------------------------

    @staticmethod
    def proc(kind):
        with open("/proc/sysvipc/" + kind) as f:
            header = f.readline().split()
            return [dict(zip(header, map(int, line.split()[:len(header)])))
                    for line in f if line.strip()]

    def made_seg(self, out, pattern, who):
        m = re.search(pattern, out or b"")
        if not m:
            raise BenchError("%s printed %r: no id" % (who, out[:200]))
        seg = int(m.group(1))
        self.segs.add(seg)
        return seg

    # How one command is run: `ex(argv, capture)` returns (measure,
    # stdout or None); the measure is wall ns (self.wall), page faults
    # (self.faults) or instructions (self.instructions). A side is a
    # function of `ex` that runs its command(s) once and adds the measures.

    def wall(self, argv, capture=False):
        return self.spawn(argv, capture=capture)

    def faults(self, argv, capture=False):
        """Page faults of one run of argv (minor + major, from wait4's
        rusage, its reaped children included), and its stdout."""
        p = subprocess.Popen(argv, stdin=subprocess.DEVNULL,
                             stdout=subprocess.PIPE if capture
                             else subprocess.DEVNULL,
                             stderr=subprocess.PIPE)
        self.pids[p.pid] = [time.time(), None]
        self.live = p
        out = p.stdout.read() if capture else None
        err = p.stderr.read()
        _, status, ru = os.wait4(p.pid, 0)
        p.returncode = os.waitstatus_to_exitcode(status)
        p.stderr.close()
        if p.stdout:
            p.stdout.close()
        self.pids[p.pid][1] = time.time()
        self.live = None
        if p.returncode != 0:
            raise BenchError("%s exited with %d: %s" % (
                " ".join(argv), p.returncode,
                err.decode("utf-8", "replace").strip()))
        return ru.ru_minflt + ru.ru_majflt, out

    def instructions(self, argv, capture=False):
        """User-space instructions of one run of argv (children too), and
        its stdout."""
        if self.counter == "perf":
            fd, path = tempfile.mkstemp(dir=self.tmpdir, prefix="perf.")
            os.close(fd)
            try:
                _, out = self.spawn(["perf", "stat", "-x,", "-e",
                                     "instructions:u", "-o", path, "--"] +
                                    argv, capture=capture)
                with open(path) as f:
                    for line in f:
                        fields = line.strip().split(",")
                        if len(fields) > 2 and fields[2].startswith(
                                "instructions"):
                            return int(fields[0]), out
            finally:
                os.unlink(path)
            raise BenchError("perf stat printed no instruction count")
        for name in os.listdir(self.cg_dir):
            os.unlink(os.path.join(self.cg_dir, name))
        # A program that execs another (`lock ID -- true`) would lose its
        # own count: callgrind counts at exit. So each process dumps its
        # count before execve too, and every dump's totals are added.
        _, out = self.spawn(
            ["valgrind", "--tool=callgrind", "--trace-children=yes",
             "--dump-before=execve",
             "--callgrind-out-file=" + os.path.join(self.cg_dir, "out.%p"),
             "--log-file=" + os.path.join(self.cg_dir, "log.%p"), "--"] +
            argv, capture=capture)
        total = 0
        for name in os.listdir(self.cg_dir):
            if not name.startswith("out."):
                continue
            with open(os.path.join(self.cg_dir, name)) as f:
                for m in re.finditer(r"^totals: (\d+)", f.read(), re.M):
                    total += int(m.group(1))
        if total == 0:
            raise BenchError("callgrind counted nothing for %s" % argv[0])
        return total, out

    def pick_counter(self):
        """perf stat's instructions:u where the CPU's counters can be read
        (not in many VMs), else callgrind."""
        if shutil.which("perf"):
            r = subprocess.run(["perf", "stat", "-x,", "-e",
                                "instructions:u", "--", "true"],
                               capture_output=True, text=True)
            for line in r.stderr.splitlines():
                value = line.split(",")[0]
                if "instructions" in line and value.isdigit():
                    self.counter = "perf"
                    return "instructions:u from perf stat"
        if shutil.which("valgrind") is None:
            raise BenchError("neither perf stat -e instructions:u nor "
                             "valgrind works here: install valgrind")
        self.counter = "callgrind"
        self.cg_dir = os.path.join(self.tmpdir, "callgrind")
        os.mkdir(self.cg_dir)
        return ("instructions from valgrind --tool=callgrind (perf stat "
                "cannot read instructions:u here)")

    # -- the sides ----------------------------------------------------------

    def side_create_rm(self, ex):
        m1, out = ex([self.shm, "create", "--size", "4096"], capture=True)
        seg = self.made_seg(out, rb'"id"\s*:\s*(\d+)', "sysv-shm create")
        m2, _ = ex([self.shm, "rm", str(seg)])
        self.segs.discard(seg)
        return m1 + m2

    def side_ipcmk_rm(self, ex):
        m1, out = ex(["ipcmk", "-M", "4096"], capture=True)
        seg = self.made_seg(out, rb"(\d+)\s*$", "ipcmk")
        m2, _ = ex(["ipcrm", "-m", str(seg)])
        self.segs.discard(seg)
        return m1 + m2

    def one(self, argv, gives=0):
        """A side of one command; `gives` V's to count."""
        def side(ex):
            m, _ = ex(argv)
            self.v_made += gives
            return m
        return side

    def two(self, first, second):
        def side(ex):
            return ex(first)[0] + ex(second)[0]
        return side

    # -- measuring ------------------------------------------------------------

    def measure(self, what, a, b, target):
        """The wall pair (the target's row), then the count rows."""
        self.pair(what, lambda: a(self.wall), lambda: b(self.wall),
                  self.args.runs, target=target)
        n = self.args.count_runs
        a_counts, b_counts = [], []
        for _ in range(n):
            a_counts.append((a(self.instructions), a(self.faults)))
            b_counts.append((b(self.instructions), b(self.faults)))
        for i, (kind, unit) in enumerate((("instructions", "instr"),
                                          ("page faults", "faults"))):
            method = ("%s, median of %d" % (
                "instructions:u (perf stat)" if self.counter == "perf"
                else "instructions (callgrind)", n) if i == 0 else
                "page faults (wait4 rusage), median of %d" % n)
            cls = count_row_class(unit, method)
            row = cls("  %s: %s" % (kind, what), [c[i] for c in a_counts],
                      [c[i] for c in b_counts])
            self.rows.append(row)
            print("  %-48s ipctk %-12s peer %-12s ratio %5.2f  (%s)" % (
                row.what, row.cell(row.a_med), row.cell(row.b_med),
                row.ratio, method))
        sys.stdout.flush()

    def bench_floor(self, static_true):
        dyn_true = shutil.which("true") or "/bin/true"
        self.measure("floor: static no-op (peer %s)" % dyn_true,
                     self.one([static_true]), self.one([dyn_true]), None)

    def bench_shm(self):
        _, out = self.spawn([self.shm, "create", "--size", "4096"],
                            capture=True)
        seg = self.made_seg(out, rb'"id"\s*:\s*(\d+)', "sysv-shm create")
        self.measure("sysv-shm stat ID (peer ipcs -m -i ID)",
                     self.one([self.shm, "stat", str(seg)]),
                     self.one(["ipcs", "-m", "-i", str(seg)]), ("<=", 0.8))
        self.spawn([self.shm, "rm", str(seg)])
        self.segs.discard(seg)
        self.measure("sysv-shm create+rm (peer ipcmk -M + ipcrm -m)",
                     self.side_create_rm, self.side_ipcmk_rm, ("<=", 0.8))

    def make_set(self):
        sem, key = self.create_keyed_set()
        self.sets.add(sem)
        return sem, key

    def bench_sem(self):
        sem, key = self.make_set()
        v = self.one([self.sem, "V", str(sem)], gives=1)
        peers = (
            ("sysv-sem V ID (peer ipcs -s -i ID)",
             self.one(["ipcs", "-s", "-i", str(sem)]), ("<=", 0.8)),
            ("sysv-sem V ID (peer python3 sysv_ipc release)",
             self.one([PYTHON, "-c", "import sysv_ipc; "
                       "sysv_ipc.Semaphore(%d).release()" % key], gives=1),
             ("<=", 0.15)),
            ("sysv-sem V ID (peer perl IPC::SysV semop)",
             self.one([PERL, "-e", 'use IPC::SysV; semop(%d, pack("s!3", 0, '
                       '1, 0)) or die "semop: $!\\n"' % sem], gives=1),
             ("<=", 0.3)),
        )
        for what, peer, target in peers:
            self.spawn([self.sem, "set", str(sem), "--value", "0=0"])
            self.v_made = 0
            self.measure(what, v, peer, target)
            _, out = self.spawn([self.sem, "stat", str(sem)], capture=True)
            got = json.loads(out)["semaphores"][0]["value"]
            if got != self.v_made:
                raise BenchError("semaphore holds %d after '%s', not %d: a V "
                                 "was lost or made twice" % (
                                     got, what, self.v_made))
        self.spawn([self.sem, "rm", str(sem)])
        self.sets.discard(sem)

    def expect_unlocked(self, after):
        _, out = self.spawn([self.lock, "status", str(LOCK_ID), "--path",
                             self.lock_path], capture=True)
        if json.loads(out)["status"][0]["locked"]:
            raise BenchError("lock %d is still held after %s" % (LOCK_ID,
                                                                  after))

    def bench_lock(self):
        flock_file = os.path.join(self.tmpdir, "flock-file")
        open(flock_file, "w").close()
        self.lock_made = True   # before the tool runs: an init cut short
        _, out = self.spawn([self.lock, "init", "--path", self.lock_path],
                            capture=True)
        if not json.loads(out).get("created"):
            raise BenchError("%s already existed" % self.lock_path)
        lid = str(LOCK_ID)
        p = ["--path", self.lock_path]
        flock = self.one(["flock", flock_file, "true"])
        self.measure("shmctl-lock lock ID -- true (peer flock FILE true)",
                     self.one([self.lock, "lock", lid] + p + ["--", "true"]),
                     flock, ("<=", 0.7))
        self.expect_unlocked("'lock ID -- true'")
        self.measure("shmctl-lock lock + unlock (peer flock FILE true)",
                     self.two([self.lock, "lock", lid] + p,
                              [self.lock, "unlock", lid] + p),
                     flock, ("<=", 1.0))
        self.expect_unlocked("'lock ID' + 'unlock ID'")

    def check_tools(self):
        for path in (self.shm, self.sem, self.lock):
            if not os.access(path, os.X_OK):
                raise BenchError("no %s in %s (--build-dir)" % (
                    os.path.basename(path), self.args.build_dir))
        for tool in ("ipcs", "ipcmk", "ipcrm", "flock", "gcc"):
            if shutil.which(tool) is None:
                raise BenchError("%s is needed" % tool)
        if subprocess.run([PYTHON, "-c", "import sysv_ipc"],
                          capture_output=True).returncode != 0:
            raise BenchError("%s cannot import sysv_ipc: install Debian's "
                             "python3-sysv-ipc" % PYTHON)
        if subprocess.run([PERL, "-MIPC::SysV", "-e", "1"],
                          capture_output=True).returncode != 0:
            raise BenchError("%s with IPC::SysV is needed" % PERL)

    def run(self):
        a = self.args
        self.check_tools()
        static_true = self.build_static_true()   # makes self.tmpdir
        how = self.pick_counter()
        for path in (self.shm, self.sem, self.lock):
            print("%s (%s)" % (path, linkage(path)))
        print(self.host_line())
        print("counts: %s; page faults from wait4's rusage" % how)
        print("load average at start: %s" % self.loadavg())
        print("\nPer invocation: wall time median of n=%d each side; counts "
              "median of n=%d" % (a.runs, a.count_runs))
        self.bench_floor(static_true)
        self.bench_shm()
        self.bench_sem()
        self.bench_lock()
        self.print_table()

    # -- cleanup ------------------------------------------------------------

    def our_objects(self):
        """(kind, id) of every segment and set of this run still there:
        those it knows, and any a child of its made (a command cut short)."""
        left = []
        for r in self.proc("shm"):
            if r["shmid"] in self.segs or (
                    r["shmid"] not in self.shm_before
                    and self.ours(r["cpid"], r["ctime"])):
                left.append(("m", r["shmid"]))
        for r in self.proc("sem"):
            if r["semid"] in self.sets or (
                    r["semid"] not in self.sem_before
                    and r["key"] in self.tried_keys
                    and r["cuid"] == os.geteuid()
                    and r["ctime"] >= self.start_time - 1):
                left.append(("s", r["semid"]))
        return left

    def cleanup(self):
        problems = []
        self.kill_live()
        try:
            for kind, ident in self.our_objects():
                r = subprocess.run(["ipcrm", "-" + kind, str(ident)],
                                   stdout=subprocess.DEVNULL,
                                   stderr=subprocess.PIPE)
                if r.returncode != 0:
                    problems.append("ipcrm -%s %d: %s" % (
                        kind, ident, r.stderr.decode().strip()))
            self.segs.clear()
            self.sets.clear()
        except OSError as e:
            problems.append("scanning /proc/sysvipc: %s" % e)
        shm_file = "/dev/shm" + self.lock_path
        if self.lock_made and os.path.exists(shm_file):
            r = subprocess.run([self.lock, "destroy", "--force", "--path",
                                self.lock_path], stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE)
            if r.returncode != 0 and os.path.exists(shm_file):
                try:  # an init cut short: a unique name only we made
                    os.unlink(shm_file)
                except OSError as e:
                    problems.append("destroy %s: %s" % (self.lock_path, e))
        self.remove_tmpdir(problems)
        return problems

    def verify_clean(self):
        left = self.our_objects()
        if os.path.exists("/dev/shm" + self.lock_path):
            left.append(("lock segment", self.lock_path))
        if left:
            print("LEFTOVERS of this run: %s" % left, file=sys.stderr)
            return False
        print("cleanup: nothing of this run is left")
        return True


def main():
    ap = argparse.ArgumentParser(
        description="Per-invocation cost of sysv-shm, sysv-sem and "
        "shmctl-lock against ipcs/ipcmk/ipcrm, python3 sysv_ipc, perl and "
        "flock: wall-clock medians, instructions and page faults. Prints "
        "ratios; never fails on a timing.")
    add_json_arg(ap)
    ap.add_argument("--build-dir", default=DEFAULT_BUILD_DIR,
                    help="where the tools are (default: $IPCTK_BUILD_DIR "
                    "or the repo's build/: %(default)s)")
    ap.add_argument("--runs", type=int, default=30,
                    help="measured wall-clock runs per side (default "
                    "%(default)s)")
    ap.add_argument("--count-runs", type=int, default=3,
                    help="counted runs per side (default %(default)s)")
    ap.add_argument("--quick", action="store_true",
                    help="a smoke run: --runs 3 --count-runs 1")
    args = ap.parse_args()
    if args.quick:
        args.runs, args.count_runs = 3, 1
    if args.runs < 1 or args.count_runs < 1 or args.runs > 5000:
        ap.error("--runs must be 1..5000, --count-runs at least 1")
    return run_main(Bench(args))


if __name__ == "__main__":
    sys.exit(main())
