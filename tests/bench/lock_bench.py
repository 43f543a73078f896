#!/usr/bin/env python3
"""Benchmarks shmctl-lock, one invocation at a time, side by side with
flock(1) and prints ratios.

Not a test: it never asserts a timing. It prints, per pair, the median of
each side and their ratio, and at the end a table with the targets. (The
library itself is measured by tests/bench/lock_bench, a C++ program: lock
and unlock against a robust pthread mutex, allocation, handoffs.)

Pairs (A = ipctk, B = peer), run alternately A B A B ... after one warm-up
run of each:

  floor        a static `int main(){return 0;}` (built here with gcc) vs
               /bin/true: the cost of exec itself, for reference
  lock -- true shmctl-lock lock ID -- true   vs flock FILE true
  lock+unlock  shmctl-lock lock ID  +  shmctl-lock unlock ID (two
               invocations, their times added) vs flock FILE true
  (median wall time per invocation, or per two; ratio = A / B)

and the time of `shmctl-lock status` of a 1,048,576-lock segment with two
locks held, into /dev/null and into a file (target: under 1 s, issue 6).

--quick (a smoke run of a few seconds) makes it 5 runs per side and 2
status runs of each kind, every row still there.

Every child is spawned the way subprocess.run spawns it (Popen +
communicate); both sides of a pair get the same stdin/stdout/stderr. The
segments are POSIX shm objects of this run with unique names (--path, and
SHMCTL_LOCK_PATH is set to the first, so that no default segment is made);
flock's file is in a temp dir. At the end, also on an error, Ctrl-C, SIGTERM
or SIGHUP, every segment of the run is destroyed (`shmctl-lock destroy
--force`, or, if the tool cannot, the /dev/shm file it created is unlinked)
and the temp dir removed; then /dev/shm is checked for leftovers.
"""

import argparse
import json
import os
import random
import shutil
import subprocess
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
from benchlib import (add_json_arg, DEFAULT_BUILD_DIR, MIB, BenchBase, BenchError, Row,
                      fmt_ms, linkage, run_main)

LOCK_ID = 7
BIG_LOCKS = 1048576


class BoundRow(Row):
    """An absolute time with no peer: the ipctk median against a bound
    (issue 6: status of 1,048,576 locks under 1 s). No ratio; met is
    whether the median is under the bound, counted like a ratio's."""

    def __init__(self, what, a_ns, bound_ns):
        super().__init__(what, a_ns, a_ns)
        self.bound_ns = bound_ns
        self.b_med = None
        self.ratio = None

    def cell(self, med):
        return "-" if med is None else fmt_ms(med)

    def ratio_text(self):
        return "-"

    def target_text(self):
        return "< %g s" % (self.bound_ns / 1e9)

    def met(self):
        return "yes" if self.a_med < self.bound_ns else "NO"


class Bench(BenchBase):
    ratio_note = ("Ratio = ipctk / peer on median wall time (for lock+unlock, "
                  "the two invocations' times added).")

    def __init__(self, args):
        super().__init__(args)
        self.tool = os.path.join(args.build_dir, "shmctl-lock")
        tag = "ipctk-lockbench-%d-%08x" % (os.getpid(),
                                           random.getrandbits(32))
        self.tag = tag
        self.path = "/" + tag                 # the 2048-lock segment
        self.big_path = "/" + tag + "-1m"     # the 1,048,576-lock one
        # Names this run asked the tool to create: only these are ever
        # destroyed or unlinked.
        self.made = []
        self.shm_before = set(os.listdir("/dev/shm"))
        # A `shmctl-lock` without --path would use this: never the
        # machine's default segment.
        os.environ["SHMCTL_LOCK_PATH"] = self.path

    # -- segments ---------------------------------------------------------

    def init(self, path, locks=None):
        if path not in self.made:
            self.made.append(path)  # before the tool runs: cut short too
        argv = [self.tool, "init", "--path", path]
        if locks is not None:
            argv += ["--locks", str(locks)]
        _, out = self.spawn(argv, capture=True)
        doc = json.loads(out)
        if not doc.get("created"):
            raise BenchError("%s already existed (not this run's)" % path)
        return doc

    def state(self, path, lock_id):
        _, out = self.spawn([self.tool, "status", str(lock_id), "--path",
                             path], capture=True)
        return json.loads(out)["status"][0]

    def expect_free(self, after):
        s = self.state(self.path, LOCK_ID)
        if s["locked"]:
            raise BenchError("lock %d is still held after %s" % (LOCK_ID,
                                                                  after))

    # -- the benchmarks ---------------------------------------------------

    def bench_invocations(self):
        runs = self.args.runs
        print("\nPer invocation (median wall time, n=%d each side)" % runs)
        self.floor_pair(runs)   # makes self.tmpdir
        flock_file = os.path.join(self.tmpdir, "flock-file")
        open(flock_file, "w").close()
        self.init(self.path)
        lid = str(LOCK_ID)
        lock_cmd = [self.tool, "lock", lid, "--path", self.path, "--", "true"]
        lock = [self.tool, "lock", lid, "--path", self.path]
        unlock = [self.tool, "unlock", lid, "--path", self.path]
        flock = ["flock", flock_file, "true"]

        self.pair("lock ID -- true (peer flock FILE true)",
                  lambda: self.spawn(lock_cmd)[0],
                  lambda: self.spawn(flock)[0], runs, target=("<=", 0.7))
        self.expect_free("'lock ID -- true'")
        self.pair("lock ID + unlock ID (peer flock FILE true)",
                  lambda: self.spawn(lock)[0] + self.spawn(unlock)[0],
                  lambda: self.spawn(flock)[0], runs, target=("<=", 1.0))
        self.expect_free("'lock ID' + 'unlock ID'")

    def bench_status(self):
        a = self.args
        runs = a.status_runs
        print("\nstatus of a %s-lock segment, two locks held (median wall "
              "time, n=%d)" % (format(BIG_LOCKS, ","), runs))
        st = os.statvfs("/dev/shm")
        need = 3 * 64 * MIB
        if st.f_bavail * st.f_frsize < need:
            raise BenchError("/dev/shm has less than %d MiB free" % (
                need // MIB))
        info = self.init(self.big_path, BIG_LOCKS)
        print("  segment %s: %d locks, %.1f MiB" % (
            self.big_path, info["locks"], info["size"] / MIB))
        for lid in (0, BIG_LOCKS - 1):
            self.spawn([self.tool, "lock", str(lid), "--path",
                        self.big_path])
        status = [self.tool, "status", "--path", self.big_path]
        if self.tmpdir is None:
            self.build_static_true()
        out_file = os.path.join(self.tmpdir, "status.json")

        # Once, checked: the whole document, every lock, the two held.
        ns, _ = self.spawn(status, out_path=out_file)
        size = os.path.getsize(out_file)
        with open(out_file, "rb") as f:
            f.seek(max(0, size - 200))
            tail = f.read().decode()
        totals = json.loads("{" + tail[tail.rindex('"totals"'):-2] + "}")[
            "totals"]
        if (totals["shown"] != BIG_LOCKS or totals["held"] != 2
                or totals["stale"] != 0):
            raise BenchError("status of %s: totals %r, expected %d shown, "
                             "2 held, 0 stale" % (self.big_path, totals,
                                                  BIG_LOCKS))
        print("  checked: %.1f MiB of JSON, totals %s (%s)" % (
            size / MIB, json.dumps(totals), fmt_ms(ns)))

        for what, kwargs in (("> /dev/null", {}),
                             ("> file", {"out_path": out_file})):
            self.spawn(status, **kwargs)   # warm-up
            samples = [self.spawn(status, **kwargs)[0] for _ in range(runs)]
            row = BoundRow("status, %s locks %s" % (
                format(BIG_LOCKS, ","), what), samples, 1e9)
            self.rows.append(row)
            print("  %-48s ipctk %-12s min/max %s/%s  target %s %s" % (
                row.what, fmt_ms(row.a_med), fmt_ms(min(samples)),
                fmt_ms(max(samples)), row.target_text(), row.met()))
            sys.stdout.flush()
        os.unlink(out_file)

    def check_tools(self):
        if not os.access(self.tool, os.X_OK):
            raise BenchError("no shmctl-lock in %s (--build-dir)" %
                             self.args.build_dir)
        if shutil.which("flock") is None:
            raise BenchError("flock (util-linux) is needed")
        r = subprocess.run(["flock", "--version"], capture_output=True,
                           text=True)
        return r.stdout.strip().splitlines()[0] if r.stdout else "flock ?"

    def run(self):
        a = self.args
        flock_version = self.check_tools()
        print("shmctl-lock: %s (%s)" % (self.tool, linkage(self.tool)))
        flock_path = shutil.which("flock")
        print("flock: %s (%s), %s" % (flock_path, linkage(flock_path),
                                      flock_version))
        print(self.host_line())
        print("segments: %s, %s (SHMCTL_LOCK_PATH=%s)" % (
            self.path, self.big_path, self.path))
        print("load average at start: %s" % self.loadavg())
        if not a.skip_invocations:
            self.bench_invocations()
        if not a.skip_status:
            self.bench_status()
        self.print_table()

    # -- cleanup ----------------------------------------------------------

    def cleanup(self):
        """Destroys every segment this run made. Returns a list of
        problems."""
        problems = []
        self.kill_live()
        for path in self.made:
            if not os.path.exists("/dev/shm" + path):
                continue
            r = subprocess.run([self.tool, "destroy", "--force", "--path",
                                path], stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE)
            if r.returncode != 0 and os.path.exists("/dev/shm" + path):
                # An init cut short leaves an object the tool refuses to
                # open; it is this run's (a unique name it created).
                try:
                    os.unlink("/dev/shm" + path)
                except OSError as e:
                    problems.append("shmctl-lock destroy %s: %s; unlink: %s"
                                    % (path, r.stderr.decode().strip(), e))
        self.remove_tmpdir(problems)
        return problems

    def verify_clean(self):
        """After cleanup: nothing of ours in /dev/shm; anything else that
        changed is listed (other processes' files, never touched)."""
        ok = True
        now = set(os.listdir("/dev/shm"))
        ours = sorted(n for n in now if n.startswith(self.tag))
        if ours:
            ok = False
            print("LEFTOVER in /dev/shm of this run: %s" % ours,
                  file=sys.stderr)
        new = sorted(n for n in now - self.shm_before
                     if not n.startswith(self.tag))
        gone = sorted(self.shm_before - now)
        if not new and not gone:
            print("/dev/shm: as at the start (%d entries)" % len(now))
        else:
            print("/dev/shm: not as at the start, none of it this run's "
                  "(other processes' files): %s" % " ".join(
                      ["+" + n for n in new] + ["-" + n for n in gone]))
        return ok


def main():
    ap = argparse.ArgumentParser(
        description="Benchmark shmctl-lock invocations against flock(1), "
        "and status of a 1,048,576-lock segment. Prints ratios; never fails "
        "on a timing.")
    add_json_arg(ap)
    ap.add_argument("--build-dir", default=DEFAULT_BUILD_DIR,
                    help="where shmctl-lock is (default: $IPCTK_BUILD_DIR "
                    "or the repo's build/: %(default)s)")
    ap.add_argument("--runs", type=int, default=None,
                    help="measured runs per side for per-invocation pairs "
                    "(default 30, --quick 5)")
    ap.add_argument("--status-runs", type=int, default=None,
                    help="measured runs of each status timing (default "
                    "10, --quick 2)")
    ap.add_argument("--quick", action="store_true",
                    help="a smoke run of a few seconds: every row, few runs")
    ap.add_argument("--skip-invocations", action="store_true",
                    help="skip floor and the flock pairs")
    ap.add_argument("--skip-status", action="store_true",
                    help="skip status of the 1,048,576-lock segment")
    args = ap.parse_args()
    if args.runs is None:
        args.runs = 5 if args.quick else 30
    if args.status_runs is None:
        args.status_runs = 2 if args.quick else 10
    if args.runs < 1 or args.status_runs < 1:
        ap.error("--runs and --status-runs must be at least 1")
    return run_main(Bench(args))


if __name__ == "__main__":
    sys.exit(main())
