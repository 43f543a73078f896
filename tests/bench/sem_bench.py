#!/usr/bin/env python3
"""Benchmarks sysv-sem and the library's semop side by side with their
peers and prints ratios.

Not a test: it never asserts a timing. It prints, per pair, the median of
each side and their ratio, and at the end a table with the targets.

Pairs (A = ipctk, B = peer), run alternately A B A B ... after one warm-up
run of each:

  floor       a static `int main(){return 0;}` (built here with gcc) vs
              /bin/true: the cost of exec itself, for reference
  V           sysv-sem V ID  vs ipcs -s -i ID
                             vs /usr/bin/python3 -c 'import sysv_ipc;
                                sysv_ipc.Semaphore(KEY).release()'
                             vs /usr/bin/perl -e 'use IPC::SysV;
                                semop(ID, pack("s!3", 0, 1, 0)) ...'
              (median wall time per invocation; ratio = A / B)
  ping-pong   tests/bench/sem_pingpong (C++, the library's sem_apply) vs
              tests/bench/sem_pingpong.py (Python, sysv_ipc): two
              processes, A does V(fwd) P(back), B P(fwd) V(back); round
              trips per second, timed inside each program (ratio = A / B)
              and, for information, sem_pingpong --raw (bare semop(2)):
              what the library adds per call

Every child is spawned the way subprocess.run spawns it (Popen +
communicate) so that its pid is known; both sides of a pair get the same
stdin/stdout/stderr treatment. The sets it uses are made by `sysv-sem get
--create --excl` with random keys (sysv_ipc opens sets by key). Each one is
removed at the end with `ipcrm -s`, also on an error, Ctrl-C, SIGTERM or
SIGHUP; `ipcs -s` is then compared with what it showed at the start.
"""

import argparse
import json
import os
import random
import re
import subprocess
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
from benchlib import (add_json_arg, DEFAULT_BUILD_DIR, BenchBase, BenchError, Row,
                      linkage, run_main)

PYTHON = "/usr/bin/python3"
PERL = "/usr/bin/perl"
HERE = os.path.dirname(os.path.abspath(__file__))
PY_PINGPONG = os.path.join(HERE, "sem_pingpong.py")

# The value of a semaphore stays at most this (SEMVMX is 32767): the V
# pairs reset it before each pair and --runs is bounded accordingly.
MAX_RUNS = 10000


class RateRow(Row):
    """Samples are round trips per second; ratio = A / B (higher is
    better)."""

    method = "round trips/s a run, median of runs"

    def cell(self, med):
        return "%.0f rt/s" % med

    def span(self, sample):
        return "%.0f" % sample


class Bench(BenchBase):
    ratio_note = ("Ratio = ipctk / peer on median wall time per invocation; "
                  "for ping-pong, ipctk round trips/s / peer round trips/s.")

    def __init__(self, args):
        super().__init__(args)
        self.sem = os.path.join(args.build_dir, "sysv-sem")
        self.pingpong = os.path.join(args.build_dir, "tests", "bench",
                                     "sem_pingpong")
        self.euid = os.geteuid()
        self.set_ids = {}         # id -> key of every set known to be ours
        self.tried_keys = set()   # keys passed to `get --create --excl`
        self.ipcs_before = self.ipcs_rows()
        self.sems_before = {s["semid"] for s in self.proc_sets()}
        self.rng = random.Random()

    # -- sets -------------------------------------------------------------

    @staticmethod
    def proc_sets():
        """/proc/sysvipc/sem as dicts of ints."""
        with open("/proc/sysvipc/sem") as f:
            header = f.readline().split()
            return [dict(zip(header, map(int, line.split())))
                    for line in f if line.strip()]

    @staticmethod
    def ipcs_rows():
        out = subprocess.run(["ipcs", "-s"], capture_output=True,
                             text=True).stdout
        return [l for l in out.splitlines() if re.match(r"^0x[0-9a-f]+ ", l)]

    def make_set(self):
        """A new set of one semaphore (value 0) with a random unused key;
        returns (id, key)."""
        sem, key = self.create_keyed_set()
        self.set_ids[sem] = key
        return sem, key

    def remove_set(self, sem):
        self.spawn([self.sem, "rm", str(sem)])
        self.set_ids.pop(sem, None)

    def values(self, sem):
        _, out = self.spawn([self.sem, "stat", str(sem)], capture=True)
        return [s["value"] for s in json.loads(out)["semaphores"]]

    def reset(self, sem):
        self.spawn([self.sem, "set", str(sem), "--value", "0=0"])

    def expect(self, sem, want, after):
        got = self.values(sem)[0]
        if got != want:
            raise BenchError("set %d holds %d after %s, not %d: a V was "
                             "lost or made twice (or someone else used the "
                             "set)" % (sem, got, after, want))

    def our_sets(self):
        """(id, key) of every set of this run that still exists: those it
        knows, and any made by a `get` that was cut short (a key it tried,
        a set that was not there at the start, made by this user during
        the run)."""
        found = []
        for s in self.proc_sets():
            sem, key = s["semid"], s["key"]
            if sem in self.set_ids:
                found.append((sem, key))
            elif (key in self.tried_keys and sem not in self.sems_before
                  and s["cuid"] == self.euid
                  and s["ctime"] >= self.start_time - 1):
                found.append((sem, key))
        return found

    # -- the benchmarks ---------------------------------------------------

    def bench_invocations(self):
        runs = self.args.runs
        print("\nPer invocation (median wall time, n=%d each side)" % runs)
        self.floor_pair(runs)

        sem, key = self.make_set()
        try:
            v = [self.sem, "V", str(sem)]
            peers = (
                ("V ID (peer ipcs -s -i ID)",
                 ["ipcs", "-s", "-i", str(sem)], 0, ("<=", 0.8), Row),
                ("V ID (peer python3 -c sysv_ipc release)",
                 [PYTHON, "-c", "import sysv_ipc; "
                  "sysv_ipc.Semaphore(%d).release()" % key],
                 1, ("<=", 0.15), Row),
                ("V ID (peer perl -e IPC::SysV semop)",
                 [PERL, "-e", 'use IPC::SysV; semop(%d, pack("s!3", 0, 1, '
                  '0)) or die "semop: $!\\n"' % sem],
                 1, ("<=", 0.3), Row),
            )
            for what, peer, peer_gives, target, row_class in peers:
                self.reset(sem)
                self.pair(what, lambda: self.spawn(v)[0],
                          lambda peer=peer: self.spawn(peer)[0], runs,
                          target=target, row_class=row_class)
                # Warm-up + runs of each side; the peer's V counts too.
                self.expect(sem, (runs + 1) * (1 + peer_gives),
                            "'%s'" % what)
        finally:
            self.remove_set(sem)

    def bench_pingpong(self):
        a = self.args
        print("\nPing-pong between two processes (round trips/s, median of "
              "n=%d each side; %d rounds timed after %d warm-up ones in "
              "each run)" % (a.pp_runs, a.pp_rounds, a.pp_warmup))
        fwd, fwd_key = self.make_set()
        back, back_key = self.make_set()
        rounds = ["--rounds", str(a.pp_rounds), "--warmup", str(a.pp_warmup)]

        def rate(argv):
            def run_once():
                _, out = self.spawn(argv, capture=True)
                try:
                    return float(json.loads(out)["round_trips_per_second"])
                except (ValueError, KeyError, TypeError):
                    raise BenchError("%s printed %r" % (argv[0], out[:200]))
            return run_once

        try:
            cpp = rate([self.pingpong] + rounds + [str(fwd), str(back)])
            self.pair("ping-pong sem_apply (peer python sysv_ipc)", cpp,
                      rate([PYTHON, PY_PINGPONG] + rounds +
                           [str(fwd_key), str(back_key)]),
                      a.pp_runs, target=(">=", 10.0), row_class=RateRow)
            self.rows[-1].note = (
                "Issue 3's target. A round trip is two context switches and "
                "two wake-ups in the kernel whoever makes the calls: the next "
                "row, bare semop(2) from C++, is the floor.")
            self.expect_zero(fwd, back)
            self.pair("ping-pong sem_apply (peer bare semop(2))", cpp,
                      rate([self.pingpong, "--raw"] + rounds +
                           [str(fwd), str(back)]),
                      a.pp_runs, row_class=RateRow)
            self.expect_zero(fwd, back)
        finally:
            self.remove_set(fwd)
            self.remove_set(back)

    def expect_zero(self, *sems):
        for sem in sems:
            self.expect(sem, 0, "a ping-pong")

    def check_peers(self):
        for path, what in ((self.sem, "sysv-sem"),
                           (self.pingpong, "tests/bench/sem_pingpong")):
            if not os.access(path, os.X_OK):
                raise BenchError("no %s in %s (--build-dir)" % (
                    what, self.args.build_dir))
        r = subprocess.run([PYTHON, "-c", "import sysv_ipc; "
                            "print(sysv_ipc.VERSION)"],
                           capture_output=True, text=True)
        if r.returncode != 0:
            raise BenchError("%s cannot import sysv_ipc: install Debian's "
                             "python3-sysv-ipc" % PYTHON)
        sysv_ipc_version = r.stdout.strip()
        r = subprocess.run([PERL, "-MIPC::SysV", "-e",
                            "print $^V, ' IPC::SysV ', $IPC::SysV::VERSION"],
                           capture_output=True, text=True)
        if r.returncode != 0:
            raise BenchError("%s with IPC::SysV is needed" % PERL)
        perl_version = r.stdout.strip()
        py_version = subprocess.run([PYTHON, "-c", "import platform; "
                                     "print(platform.python_version())"],
                                    capture_output=True,
                                    text=True).stdout.strip()
        return "python3 %s, sysv_ipc %s; perl %s" % (
            py_version, sysv_ipc_version, perl_version)

    def run(self):
        a = self.args
        peers = self.check_peers()
        print("sysv-sem: %s (%s)" % (self.sem, linkage(self.sem)))
        print("sem_pingpong: %s (%s)" % (self.pingpong,
                                          linkage(self.pingpong)))
        print(self.host_line())
        print(peers)
        print("load average at start: %s" % self.loadavg())
        print("ipcs -s at start: %d set(s)" % len(self.ipcs_before))
        if not a.skip_invocations:
            self.bench_invocations()
        if not a.skip_pingpong:
            self.bench_pingpong()
        self.print_table()

    # -- cleanup ----------------------------------------------------------

    def cleanup(self):
        """Removes everything this run made. Returns a list of problems."""
        problems = []
        self.kill_live()
        try:
            for sem, _ in self.our_sets():
                r = subprocess.run(["ipcrm", "-s", str(sem)],
                                   stdout=subprocess.DEVNULL,
                                   stderr=subprocess.PIPE)
                if r.returncode != 0:
                    problems.append("ipcrm -s %d: %s" % (
                        sem, r.stderr.decode().strip()))
                self.set_ids.pop(sem, None)
        except OSError as e:
            problems.append("scanning /proc/sysvipc/sem: %s" % e)
        self.remove_tmpdir(problems)
        return problems

    def verify_clean(self):
        """After cleanup: nothing of ours in ipcs -s; anything else that
        changed is listed (other processes' sets, never touched)."""
        ok = True
        left = self.our_sets()
        if left:
            ok = False
            print("LEFTOVER sets of this run: %s" % left, file=sys.stderr)
        now = self.ipcs_rows()
        if now == self.ipcs_before:
            print("ipcs -s: as at the start (%d set(s))" % len(now))
        else:
            # A row of ours would have been caught above; these are other
            # processes' (this machine is shared), shown, not touched.
            gone = [l for l in self.ipcs_before if l not in now]
            new = [l for l in now if l not in self.ipcs_before]
            print("ipcs -s: not as at the start, none of it made by this "
                  "run (other processes' sets):")
            for l in new:
                print("  + " + l)
            for l in gone:
                print("  - " + l)
        return ok


def main():
    ap = argparse.ArgumentParser(
        description="Benchmark sysv-sem against ipcs, python3 sysv_ipc and "
        "perl IPC::SysV, and the library's semop ping-pong against "
        "sysv_ipc's. Prints ratios; never fails on a timing.")
    add_json_arg(ap)
    ap.add_argument("--build-dir", default=DEFAULT_BUILD_DIR,
                    help="where sysv-sem and tests/bench/sem_pingpong are "
                    "(default: $IPCTK_BUILD_DIR or the repo's build/: "
                    "%(default)s)")
    ap.add_argument("--runs", type=int, default=30,
                    help="measured runs per side for per-invocation pairs "
                    "(default %%(default)s, at most %d)" % MAX_RUNS)
    ap.add_argument("--pp-runs", type=int, default=5,
                    help="ping-pong runs per side (default %(default)s)")
    ap.add_argument("--pp-rounds", type=int, default=100000,
                    help="round trips timed per ping-pong run (default "
                    "%(default)s)")
    ap.add_argument("--pp-warmup", type=int, default=1000,
                    help="untimed round trips before them (default "
                    "%(default)s)")
    ap.add_argument("--quick", action="store_true",
                    help="a smoke run of seconds: 3 runs, 1 ping-pong run "
                    "of 2,000 rounds")
    ap.add_argument("--skip-invocations", action="store_true",
                    help="skip floor and the V pairs")
    ap.add_argument("--skip-pingpong", action="store_true",
                    help="skip the ping-pong pairs")
    args = ap.parse_args()
    if args.quick:
        args.runs, args.pp_runs, args.pp_rounds, args.pp_warmup = \
            3, 1, 2000, 100
    if not 1 <= args.runs <= MAX_RUNS:
        ap.error("--runs must be 1..%d" % MAX_RUNS)
    if args.pp_runs < 1 or args.pp_rounds < 1 or args.pp_warmup < 0:
        ap.error("--pp-runs and --pp-rounds must be at least 1, "
                 "--pp-warmup at least 0")
    return run_main(Bench(args))


if __name__ == "__main__":
    sys.exit(main())
