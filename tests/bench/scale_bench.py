#!/usr/bin/env python3
"""Benchmarks `sysv-shm list` on a machine with thousands of segments,
side by side with `lsipc -m --json -b`, and prints the ratio.

Not a test: it never asserts a timing. It makes --segments (default 4,000)
segments of one page each (IPC_PRIVATE, mode 0600) from this process with
shmget(2) through ctypes, which takes a few milliseconds, not thousands of
process spawns; then:

  list         sysv-shm list           vs lsipc -m --json -b
               (both list every segment on the machine: the run's and
               whatever else exists; stdout /dev/null; median wall time of
               --runs runs each side, alternating; ratio = A / B)

Both outputs are checked once before the timed runs: every segment of the
run is in both, with the same ids and sizes, and the two lists agree on
every id (others' segments that come or go in between are tolerated for a
few retries, then reported).

Before anything is made, kernel.shmmni (and shmall) and the segments that
already exist are checked: if the run's segments would not fit, it stops
with a clear error and makes nothing. Every segment it made is removed at
the end with IPC_RMID, also on an error, Ctrl-C, SIGTERM or SIGHUP; one cut
off between shmget and its bookkeeping is found in /proc/sysvipc/shm by
creator pid (this process), key 0 and creation time. Then it checks that
none is left.
"""

import argparse
import ctypes
import json
import os
import shutil
import subprocess
import sys
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
from benchlib import (add_json_arg, DEFAULT_BUILD_DIR, BenchBase, BenchError,
                      linkage, run_main)

IPC_PRIVATE = 0
IPC_CREAT = 0o1000
IPC_RMID = 0
PROC_SHM = "/proc/sysvipc/shm"

_libc = ctypes.CDLL(None, use_errno=True)
_libc.shmget.argtypes = [ctypes.c_int, ctypes.c_size_t, ctypes.c_int]
_libc.shmget.restype = ctypes.c_int
_libc.shmctl.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_void_p]
_libc.shmctl.restype = ctypes.c_int


def read_int(path):
    with open(path) as f:
        return int(f.read().split()[0])


def proc_shm_rows():
    """The rows of /proc/sysvipc/shm as dicts of ints, by column name."""
    with open(PROC_SHM) as f:
        head = f.readline().split()
        rows = []
        for line in f:
            fields = line.split()
            if len(fields) != len(head):
                continue
            row = {}
            for name, value in zip(head, fields):
                try:
                    row[name] = int(value, 8) if name == "perms" else int(value)
                except ValueError:
                    row[name] = value
            rows.append(row)
    return rows


class Bench(BenchBase):
    def __init__(self, args):
        super().__init__(args)
        self.tool = os.path.join(args.build_dir, "sysv-shm")
        self.ids = []            # segments this run made, in order
        self.made_since = time.time()

    # -- segments ---------------------------------------------------------

    def check_room(self, n):
        """Fails, making nothing, if n more one-page segments will not
        fit under kernel.shmmni and kernel.shmall."""
        shmmni = read_int("/proc/sys/kernel/shmmni")
        shmall = read_int("/proc/sys/kernel/shmall")
        rows = proc_shm_rows()
        page = os.sysconf("SC_PAGE_SIZE")
        pages = sum((r["size"] + page - 1) // page for r in rows)
        print("kernel.shmmni %d, %d segments exist (%d pages); this run "
              "makes %d" % (shmmni, len(rows), pages, n))
        # A margin for other processes that create segments meanwhile.
        margin = 16
        if len(rows) + n + margin > shmmni:
            raise BenchError(
                "%d segments would not fit: kernel.shmmni is %d and %d exist "
                "(need %d + a margin of %d); raise it (sysctl "
                "kernel.shmmni=%d) or use --segments %d" % (
                    n, shmmni, len(rows), n, margin, len(rows) + n + margin,
                    max(0, shmmni - len(rows) - margin)))
        if pages + n > shmall:
            raise BenchError("%d pages would not fit: kernel.shmall is %d "
                             "and %d are in use" % (n, shmall, pages))

    def make_segments(self, n):
        page = os.sysconf("SC_PAGE_SIZE")
        self.made_since = time.time()
        t0 = time.perf_counter()
        for _ in range(n):
            sid = _libc.shmget(IPC_PRIVATE, page, IPC_CREAT | 0o600)
            if sid < 0:
                err = ctypes.get_errno()
                raise BenchError("shmget #%d: %s" % (len(self.ids) + 1,
                                                     os.strerror(err)))
            self.ids.append(sid)
        print("made %d segments of %d bytes in %.1f ms" % (
            n, page, (time.perf_counter() - t0) * 1e3))

    def stray_ids(self):
        """Segments in /proc that this process made but did not record (a
        signal between shmget and the append): creator pid ours, key 0,
        created since the run began."""
        known = set(self.ids)
        me = os.getpid()
        try:
            rows = proc_shm_rows()
        except OSError:
            return []
        return [r["shmid"] for r in rows
                if r.get("cpid") == me and r.get("key") == 0
                and r.get("ctime", 0) >= int(self.made_since) - 1
                and r["shmid"] not in known]

    # -- the benchmark ----------------------------------------------------

    def listed(self):
        """(sysv-shm's {id: size}, lsipc's {id: size}), one run each."""
        _, out = self.spawn([self.tool, "list"], capture=True)
        doc = json.loads(out)
        ours = {s["id"]: s["size"] for s in doc["segments"]}
        if doc["count"] != len(doc["segments"]):
            raise BenchError("sysv-shm list: count %d, %d segments" % (
                doc["count"], len(doc["segments"])))
        _, out = self.spawn(["lsipc", "-m", "--json", "-b"], capture=True)
        doc = json.loads(out)
        # util-linux 2.38 prints the numbers as strings.
        peer = {int(s["id"]): int(s["size"]) for s in doc["sharedmemory"]}
        return ours, peer

    def check_outputs(self):
        mine = set(self.ids)
        page = os.sysconf("SC_PAGE_SIZE")
        for attempt in range(1, 4):
            ours, peer = self.listed()
            for name, got in (("sysv-shm list", ours),
                              ("lsipc -m --json -b", peer)):
                missing = mine - set(got)
                if missing:
                    raise BenchError("%s does not show %d of the run's "
                                     "segments (e.g. %d)" % (
                                         name, len(missing), min(missing)))
                wrong = [i for i in mine if got[i] != page]
                if wrong:
                    raise BenchError("%s shows segment %d with size %d, "
                                     "not %d" % (name, wrong[0],
                                                 got[wrong[0]], page))
            if ours == peer:
                print("checked: both list the same %d segments (%d of this "
                      "run), the same sizes" % (len(ours), len(mine)))
                return
            diff = sorted(set(ours) ^ set(peer))
            print("  outputs differ on %d ids not of this run (%s), others' "
                  "segments changing? attempt %d" % (
                      len(diff), " ".join(map(str, diff[:5])), attempt))
            time.sleep(0.2)
        raise BenchError("sysv-shm list and lsipc disagree on ids not of "
                         "this run, three times in a row")

    def run(self):
        a = self.args
        if not os.access(self.tool, os.X_OK):
            raise BenchError("no sysv-shm in %s (--build-dir)" % a.build_dir)
        lsipc = shutil.which("lsipc")
        if lsipc is None:
            raise BenchError("lsipc (util-linux) is needed")
        version = subprocess.run([lsipc, "--version"], capture_output=True,
                                 text=True).stdout.strip()
        print("sysv-shm: %s (%s)" % (self.tool, linkage(self.tool)))
        print("lsipc: %s (%s), %s" % (lsipc, linkage(lsipc), version))
        print(self.host_line())
        print("load average at start: %s" % self.loadavg())
        self.check_room(a.segments)
        self.make_segments(a.segments)
        self.check_outputs()
        print("\nList every segment (median wall time, n=%d each side, "
              "stdout /dev/null)" % a.runs)
        self.pair("list, %s segments (peer lsipc -m --json -b)" %
                  format(a.segments, ","),
                  lambda: self.spawn([self.tool, "list"])[0],
                  lambda: self.spawn([lsipc, "-m", "--json", "-b"])[0],
                  a.runs, target=("<=", 1.0))
        # Nothing removed or added by the tools themselves.
        left = set(r["shmid"] for r in proc_shm_rows())
        gone = set(self.ids) - left
        if gone:
            raise BenchError("%d of the run's segments disappeared during "
                             "the run" % len(gone))
        self.print_table()

    # -- cleanup ----------------------------------------------------------

    def cleanup(self):
        problems = []
        self.kill_live()
        ids = self.ids + self.stray_ids()
        failed = 0
        for sid in ids:
            if _libc.shmctl(sid, IPC_RMID, None) != 0:
                err = ctypes.get_errno()
                if err not in (22, 43):  # EINVAL, EIDRM: already gone
                    failed += 1
                    if failed <= 3:
                        problems.append("IPC_RMID of segment %d: %s" % (
                            sid, os.strerror(err)))
        if ids:
            print("removed the run's %d segments" % (len(ids) - failed))
        return problems

    def verify_clean(self):
        try:
            rows = proc_shm_rows()
        except OSError as e:
            print("cannot read %s: %s" % (PROC_SHM, e), file=sys.stderr)
            return False
        mine = set(self.ids)
        left = [r["shmid"] for r in rows if r["shmid"] in mine]
        left += self.stray_ids()
        if left:
            print("LEFTOVER segments of this run: %s" % " ".join(
                map(str, sorted(set(left))[:20])), file=sys.stderr)
            return False
        print("left behind: nothing (%d segments on the machine, none of "
              "this run)" % len(rows))
        return True


def main():
    ap = argparse.ArgumentParser(
        description="Benchmark `sysv-shm list` with thousands of segments "
        "against `lsipc -m --json -b`. Prints ratios; never fails on a "
        "timing.")
    add_json_arg(ap)
    ap.add_argument("--build-dir", default=DEFAULT_BUILD_DIR,
                    help="where sysv-shm is (default: $IPCTK_BUILD_DIR "
                    "or the repo's build/: %(default)s)")
    ap.add_argument("--segments", type=int, default=None,
                    help="segments to make (default 4000, --quick 200)")
    ap.add_argument("--runs", type=int, default=None,
                    help="measured runs per side (default 30, --quick 5)")
    ap.add_argument("--quick", action="store_true",
                    help="a smoke run: 200 segments, 5 runs each side")
    args = ap.parse_args()
    if args.segments is None:
        args.segments = 200 if args.quick else 4000
    if args.runs is None:
        args.runs = 5 if args.quick else 30
    if args.segments < 1 or args.runs < 1:
        ap.error("--segments and --runs must be at least 1")
    return run_main(Bench(args))


if __name__ == "__main__":
    sys.exit(main())
