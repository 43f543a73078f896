#!/usr/bin/env python3
"""Benchmarks sysv-shm side by side with its peers and prints ratios.

Not a test: it never asserts a timing. It prints, per pair, the median wall
time of each side and their ratio (ipctk / peer; for transfers, ipctk
throughput / peer throughput), and at the end a table with the targets.

Pairs (A = ipctk, B = peer), run alternately A B A B ... after one warm-up
run of each:

  floor       a static `int main(){return 0;}` (built here with gcc) vs
              /bin/true: the cost of exec itself, for reference
  stat        sysv-shm stat ID              vs ipcs -m -i ID
  create+rm   sysv-shm create --size 4096   vs ipcmk -M 4096
              + sysv-shm rm ID                 + ipcrm -m ID
  write       sysv-shm write ID --file F    vs cat F > /dev/shm/x
              (fresh segment / fresh file each run: both allocate pages)
  write       same into the segment/file left by the last run (no trunc)
  read        sysv-shm read ID --raw >/dev/null  vs cat /dev/shm/x >/dev/null
  read        same into a fresh tmpfs file instead of /dev/null

Transfers run at 4 KiB, 1 MiB, 64 MiB and --max-size (default 1 GiB); the
targets apply at --max-size only. Every child is spawned the way
subprocess.run spawns it (Popen + communicate) so that its pid is known;
both sides of a pair get the same stdin/stdout/stderr treatment.

Everything it makes (segments, files under /dev/shm and the temp dir) is
removed at the end, also on error, Ctrl-C, SIGTERM or SIGHUP.
"""

import argparse
import gc
import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
from benchlib import (add_json_arg, GIB, KIB, MIB, DEFAULT_BUILD_DIR, BenchBase,
                      BenchError, Row, fmt_ms, linkage,
                      read_first_line, run_main)

# Popen arguments that run a child as nobody (no capabilities, so no
# /proc/self/map_files: sysv-shm copies through the mapping).
NOBODY_KW = {"user": 65534, "group": 65534, "extra_groups": []}

FLOOR_C = b"""
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/shm.h>
int main(int argc, char **argv) {
  if (strcmp(argv[1], "read") == 0) {  /* read SHMID: map what exists */
    struct shmid_ds ds;
    int id = atoi(argv[2]);
    if (shmctl(id, IPC_STAT, &ds) != 0) return 1;
    char *p = shmat(id, 0, SHM_RDONLY);
    if (p == (void *)-1) return 1;
    return madvise(p, ds.shm_segsz, 22) != 0;  /* MADV_POPULATE_READ */
  }
  size_t size = strtoull(argv[1], 0, 10);
  int id = shmget(IPC_PRIVATE, size, 0600 | IPC_CREAT);
  if (id < 0) return 1;
  char *p = shmat(id, 0, 0);
  shmctl(id, IPC_RMID, 0);  /* freed when this process ends */
  if (p == (void *)-1) return 1;
  if (madvise(p, size, 23) != 0) return 1;  /* MADV_POPULATE_WRITE */
  if (argc > 2) memset(p, 1, size);
  return 0;
}
"""


def parse_size(text):
    m = re.fullmatch(r"\s*(\d+)\s*([KMGT]?)(i?B)?\s*", text, re.IGNORECASE)
    if not m:
        raise argparse.ArgumentTypeError("bad size %r (e.g. 4096, 64M, 1G)"
                                         % text)
    unit = {"": 1, "K": KIB, "M": MIB, "G": GIB, "T": 1024 * GIB}
    value = int(m.group(1)) * unit[m.group(2).upper()]
    if value <= 0:
        raise argparse.ArgumentTypeError("size must be positive")
    return value


def size_name(n):
    for unit, name in ((GIB, "GiB"), (MIB, "MiB"), (KIB, "KiB")):
        if n >= unit and n % unit == 0:
            return "%d %s" % (n // unit, name)
    return "%d B" % n


class Bench(BenchBase):
    ratio_note = ("Ratio = ipctk / peer on median wall time; for transfers, "
                  "ipctk throughput / peer throughput.")

    def __init__(self, args):
        super().__init__(args)
        self.shm = os.path.join(args.build_dir, "sysv-shm")
        # A segment is ours only if one of our children (self.pids) made it
        # while it ran.
        self.seg_ids = set()      # segments known to be ours and still there
        self.shmdir = None        # under /dev/shm: x, y (and F by default)
        self.shm_before = set(os.listdir("/dev/shm"))
        self.extra_files = []     # input files outside self.shmdir
        self.floor_exe = None     # build_floor()'s program

    # -- segments ---------------------------------------------------------

    def shm_create(self, size, mode=None):
        """sysv-shm create --size SIZE [--mode MODE]; returns (ns, id)."""
        argv = [self.shm, "create", "--size", str(size)]
        if mode is not None:
            argv += ["--mode", mode]
        ns, out = self.spawn(argv, capture=True)
        # Parsed outside the timed region; the id is the first field.
        return ns, self.made(out, rb'"id"\s*:\s*(\d+)', "sysv-shm create")

    def shm_rm(self, seg):
        ns, _ = self.spawn([self.shm, "rm", str(seg)])
        self.seg_ids.discard(seg)
        return ns

    def ipcmk(self, size):
        ns, out = self.spawn(["ipcmk", "-M", str(size)], capture=True)
        return ns, self.made(out, rb"(\d+)\s*$", "ipcmk")

    def made(self, out, pattern, who):
        """The segment id that `who` printed, remembered for cleanup."""
        m = re.search(pattern, out)
        if not m:
            raise BenchError("%s printed %r" % (who, out[:200]))
        seg = int(m.group(1))
        self.seg_ids.add(seg)
        return seg

    def ipcrm(self, seg):
        ns, _ = self.spawn(["ipcrm", "-m", str(seg)])
        self.seg_ids.discard(seg)
        return ns

    def our_segments(self):
        """(id, cpid) of every segment made by one of our children."""
        found = []
        with open("/proc/sysvipc/shm") as f:
            header = f.readline().split()
            col = {name: i for i, name in enumerate(header)}
            for line in f:
                v = line.split()
                seg = int(v[col["shmid"]])
                cpid = int(v[col["cpid"]])
                ctime = int(v[col["ctime"]])
                if self.ours(cpid, ctime):
                    found.append((seg, cpid))
                elif seg in self.seg_ids:
                    found.append((seg, cpid))
        return found

    # -- the benchmarks ---------------------------------------------------

    def bench_invocations(self):
        runs = self.args.runs
        print("\nPer invocation (median wall time, n=%d each side)" % runs)
        self.floor_pair(runs)

        _, seg = self.shm_create(4096)
        try:
            self.pair("stat ID (peer ipcs -m -i ID)",
                      lambda: self.spawn([self.shm, "stat", str(seg)])[0],
                      lambda: self.spawn(["ipcs", "-m", "-i", str(seg)])[0],
                      runs, target=("<=", 0.8))
        finally:
            self.shm_rm(seg)

        create_a, create_b, rm_a, rm_b = [], [], [], []

        def create_then_rm(create, rm, creates, rms):
            """One timed create + rm, each part also kept apart."""
            def run_once():
                t_create, seg = create(4096)
                t_rm = rm(seg)
                creates.append(t_create)
                rms.append(t_rm)
                return t_create + t_rm
            return run_once

        self.pair("create+rm 4096 (peer ipcmk -M + ipcrm -m)",
                  create_then_rm(self.shm_create, self.shm_rm, create_a, rm_a),
                  create_then_rm(self.ipcmk, self.ipcrm, create_b, rm_b),
                  runs, target=("<=", 0.8))
        # The same runs, split (the warm-up run is dropped).
        for what, a, b in (("  create alone (peer ipcmk -M 4096)",
                            create_a[1:], create_b[1:]),
                           ("  rm alone (peer ipcrm -m ID)",
                            rm_a[1:], rm_b[1:])):
            row = Row(what, a, b)
            self.rows.append(row)
            print("  %-48s ipctk %-12s peer %-12s ratio %5.2f"
                  % (what, row.cell(row.a_med), row.cell(row.b_med),
                     row.ratio))

    def make_input(self, path, size):
        block = os.urandom(min(size, MIB))
        digest = hashlib.sha256()
        with open(path, "wb") as f:
            left = size
            while left > 0:
                chunk = block[:left]
                f.write(chunk)
                digest.update(chunk)
                left -= len(chunk)
        return digest.hexdigest()

    def segment_digest(self, seg):
        h = hashlib.sha256()
        with subprocess.Popen([self.shm, "read", str(seg), "--raw"],
                              stdin=subprocess.DEVNULL,
                              stdout=subprocess.PIPE) as p:
            self.pids[p.pid] = [time.time(), None]
            self.live = p
            while True:
                chunk = p.stdout.read(MIB)
                if not chunk:
                    break
                h.update(chunk)
            p.wait()
            self.live = None
        if p.returncode != 0:
            raise BenchError("sysv-shm read --raw exited %d" % p.returncode)
        return h.hexdigest()

    # -- transfers --------------------------------------------------------

    def trio(self, what, a, peers, runs, size, target):
        """Like pair(), with two peers: a warm-up of each, then A B C A B C
        ...; one Row per peer, sharing A's samples. Returns the rows."""
        sides = [a] + [fn for _, fn in peers]
        for fn in sides:
            fn()
        samples = [[] for _ in sides]
        gc.disable()
        try:
            for _ in range(runs):
                for fn, got in zip(sides, samples):
                    got.append(fn())
        finally:
            gc.enable()
        rows = []
        for (peer, _), b_ns in zip(peers, samples[1:]):
            row = Row("%s (peer %s)" % (what, peer), samples[0], b_ns, size,
                      target)
            self.rows.append(row)
            rows.append(row)
            print("  %-48s ipctk %-12s peer %-12s ratio %5.2f  target %-7s "
                  "%s  [%s vs %s]"
                  % (row.what, row.cell(row.a_med), row.cell(row.b_med),
                     row.ratio, row.target_text(), row.met(),
                     fmt_ms(row.a_med), fmt_ms(row.b_med)))
            print("  %-48s n=%d; ipctk min/max %s/%s; peer min/max %s/%s"
                  % ("", runs, row.span(min(samples[0])),
                     row.span(max(samples[0])), row.span(min(b_ns)),
                     row.span(max(b_ns))))
        sys.stdout.flush()
        return rows

    def plot(self, line, size, median_ns):
        self.add_point("throughput", line, size, size / MIB / (median_ns / 1e9),
                       "transfer size (bytes)", "throughput (MiB/s)")

    def build_floor(self):
        """A static C program that only shmat()s a fresh private segment
        of SIZE bytes and faults it in with MADV_POPULATE_WRITE (with a
        second argument, then also writes every byte once, from user
        space): the least a copy into the mapping has to do. With
        `read SHMID`, it maps an existing segment's pages
        (MADV_POPULATE_READ): what a copy out of the mapping has to do
        beyond the copy itself."""
        if self.tmpdir is None:
            self.tmpdir = tempfile.mkdtemp(prefix="ipctk-bench.")
        exe = os.path.join(self.tmpdir, "populate-floor")
        subprocess.run(["gcc", "-static", "-O2", "-x", "c", "-", "-o", exe],
                       input=FLOOR_C, check=True)
        return exe

    def bench_transfer(self, size, runs, targets):
        name = size_name(size)
        print("\nTransfer of %s (n=%d each side)" % (name, runs))
        in_dir = self.args.input_dir or self.shmdir
        src = os.path.join(in_dir, "input-%d" % size)
        if in_dir != self.shmdir:
            self.extra_files.append(src)
        x = os.path.join(self.shmdir, "x")
        y = os.path.join(self.shmdir, "y")
        want = self.make_input(src, size)
        os.chmod(src, 0o644)   # readable by nobody for the unprivileged rows
        seg = None
        target = (">=", 0.9) if targets else None

        def unlink(path):
            try:
                os.unlink(path)
            except FileNotFoundError:
                pass

        # Who runs the tool: as root, once as root (the segment's file via
        # /proc/self/map_files) and once as nobody (the mapping), both sides
        # of a row as the same user; otherwise as we are (the mapping).
        if os.geteuid() == 0:
            variants = [("root, map_files", {}),
                        ("nobody, mapping", NOBODY_KW)]
        else:
            variants = [("unprivileged, mapping", {})]
        try:
            _, seg = self.shm_create(size, mode="0666")

            # 1. Into fresh pages: a new segment vs a new file, every run.
            #    Creating/removing them is outside the timed region.
            for label, kw in variants:
                def write_fresh_a(kw=kw):
                    _, s = self.shm_create(size, mode="0666")
                    try:
                        return self.spawn([self.shm, "write", str(s),
                                           "--file", src], **kw)[0]
                    finally:
                        self.shm_rm(s)

                def write_fresh_cat(kw=kw):
                    unlink(x)
                    return self.spawn(["cat", src], out_path=x, **kw)[0]

                def write_fresh_dd(kw=kw):
                    unlink(x)
                    return self.spawn(["dd", "if=" + src, "bs=1M",
                                       "status=none"], out_path=x, **kw)[0]

                rows = self.trio("write %s, fresh, %s" % (name, label),
                                 write_fresh_a,
                                 [("cat F > x", write_fresh_cat),
                                  ("dd bs=1M", write_fresh_dd)],
                                 runs, size, target)
                self.plot(self.line("ipctk write", label, variants),
                          size, rows[0].a_med)
                if label == variants[0][0]:
                    self.plot("cat write", size, rows[0].b_med)
                    self.plot("dd write", size, rows[1].b_med)

            # 2. Into pages that exist already (info).
            def write_again_a():
                return self.spawn([self.shm, "write", str(seg),
                                   "--file", src])[0]

            def write_again_b():
                return self.spawn(["cat", src], out_path=x,
                                  out_trunc=False)[0]

            self.pair("write %s, reused (peer cat F 1<> x)" % name,
                      write_again_a, write_again_b, runs, size)

            got = self.segment_digest(seg)
            if got != want:
                raise BenchError("segment %d does not hold the input file "
                                 "after sysv-shm write" % seg)
            os.chmod(x, 0o644)

            # 3. Out to /dev/null (info: not a copy).
            self.trio("read %s > /dev/null" % name,
                      lambda: self.spawn([self.shm, "read", str(seg),
                                          "--raw"])[0],
                      [("cat x", lambda: self.spawn(["cat", x])[0]),
                       ("dd bs=1M", lambda: self.spawn(
                           ["dd", "if=" + x, "bs=1M", "status=none"])[0])],
                      runs, size, None)

            # 4. Out to a fresh tmpfs file: the honest copy.
            for label, kw in variants:
                def read_file_a(kw=kw):
                    unlink(y)
                    return self.spawn([self.shm, "read", str(seg), "--raw"],
                                      out_path=y, **kw)[0]

                def read_file_cat(kw=kw):
                    unlink(y)
                    return self.spawn(["cat", x], out_path=y, **kw)[0]

                def read_file_dd(kw=kw):
                    unlink(y)
                    return self.spawn(["dd", "if=" + x, "bs=1M",
                                       "status=none"], out_path=y, **kw)[0]

                rows = self.trio("read %s > file, %s" % (name, label),
                                 read_file_a,
                                 [("cat x > y", read_file_cat),
                                  ("dd bs=1M", read_file_dd)],
                                 runs, size, target)
                if self.file_digest(y) != want:
                    raise BenchError("sysv-shm read --raw (%s) did not "
                                     "copy the segment" % label)
                self.plot(self.line("ipctk read", label, variants),
                          size, rows[0].a_med)
                if label == variants[0][0]:
                    self.plot("cat read", size, rows[0].b_med)
                    self.plot("dd read", size, rows[1].b_med)

            # 5. The floor of any copy into the mapping (info), at the
            #    sizes with targets and the largest (--quick: 1 MiB).
            if targets or size == self.args.max_size:
                floor = self.floor_exe or self.build_floor()
                self.floor_exe = floor

                def write_fresh_cat_root():
                    unlink(x)
                    return self.spawn(["cat", src], out_path=x)[0]

                self.trio("info: mapping floor %s, shmat+populate" % name,
                          lambda: self.spawn([floor, str(size)])[0],
                          [("cat F > x", write_fresh_cat_root)],
                          runs, size, None)
                self.trio("info: mapping floor %s, populate+1st touch"
                          % name,
                          lambda: self.spawn([floor, str(size), "touch"])[0],
                          [("cat F > x", write_fresh_cat_root)],
                          runs, size, None)

                def read_file_cat_root():
                    unlink(y)
                    return self.spawn(["cat", x], out_path=y)[0]

                self.trio("info: mapping floor %s, map to read" % name,
                          lambda: self.spawn([floor, "read", str(seg)])[0],
                          [("cat x > y", read_file_cat_root)],
                          runs, size, None)
        finally:
            if seg is not None and seg in self.seg_ids:
                self.shm_rm(seg)
            for path in (src, x, y):
                try:
                    os.unlink(path)
                except FileNotFoundError:
                    pass

    @staticmethod
    def line(base, label, variants):
        """The plot line of ipctk's side: the first variant plain, the
        others named."""
        return base if label == variants[0][0] else "%s (%s)" % (base, label)

    @staticmethod
    def file_digest(path):
        h = hashlib.sha256()
        with open(path, "rb") as f:
            for chunk in iter(lambda: f.read(MIB), b""):
                h.update(chunk)
        return h.hexdigest()

    def check_room(self):
        need_mem = 4 * self.args.max_size + 256 * MIB
        avail = 0
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    avail = int(line.split()[1]) * KIB
        if avail and avail < need_mem:
            raise BenchError("--max-size %s needs about %s of free memory, "
                             "%s is available" % (
                                 size_name(self.args.max_size),
                                 size_name(need_mem // MIB * MIB),
                                 size_name(avail // MIB * MIB)))
        st = os.statvfs("/dev/shm")
        files = 3 if not self.args.input_dir else 2
        if st.f_bavail * st.f_frsize < files * self.args.max_size:
            raise BenchError("/dev/shm has too little room for --max-size")
        shmmax = int(read_first_line("/proc/sys/kernel/shmmax", "0") or 0)
        if shmmax and shmmax < self.args.max_size:
            raise BenchError("kernel.shmmax (%d) < --max-size" % shmmax)

    def run(self):
        a = self.args
        if not os.access(self.shm, os.X_OK):
            raise BenchError("no sysv-shm in %s (--build-dir)" % a.build_dir)
        print("sysv-shm: %s (%s)" % (self.shm, linkage(self.shm)))
        print(self.host_line())
        print("THP: enabled=%s shmem_enabled=%s" % (
            read_first_line("/sys/kernel/mm/transparent_hugepage/enabled"),
            read_first_line(
                "/sys/kernel/mm/transparent_hugepage/shmem_enabled")))
        print("load average at start: %s" % self.loadavg())
        in_where = a.input_dir or "/dev/shm (tmpfs)"
        print("input files in %s; peer output x, y in /dev/shm (tmpfs); "
              "page cache warm (one warm-up run of each side)" % in_where)

        if not a.skip_invocations:
            self.bench_invocations()
        if not a.skip_transfers:
            self.check_room()
            self.shmdir = tempfile.mkdtemp(prefix="ipctk-bench.",
                                           dir="/dev/shm")
            os.chmod(self.shmdir, 0o755)  # nobody reads F and x in it
            sizes = [s for s in (4 * KIB, MIB, 64 * MIB) if s < a.max_size]
            for s in sizes:
                self.bench_transfer(s, a.transfer_runs,
                                    targets=s >= 64 * MIB)
            self.bench_transfer(a.max_size, a.big_runs,
                                targets=a.max_size >= 64 * MIB)
        self.print_table()

    # -- cleanup ----------------------------------------------------------

    def cleanup(self):
        """Removes everything this run made. Returns a list of problems."""
        problems = []
        self.kill_live()
        try:
            for seg, _ in self.our_segments():
                r = subprocess.run(["ipcrm", "-m", str(seg)],
                                   stdout=subprocess.DEVNULL,
                                   stderr=subprocess.PIPE)
                if r.returncode != 0:
                    problems.append("ipcrm -m %d: %s" % (
                        seg, r.stderr.decode().strip()))
                self.seg_ids.discard(seg)
        except OSError as e:
            problems.append("scanning /proc/sysvipc/shm: %s" % e)
        for path in self.extra_files:
            try:
                os.unlink(path)
            except FileNotFoundError:
                pass
            except OSError as e:
                problems.append("%s: %s" % (path, e))
        for d in (self.shmdir, self.tmpdir):
            if d is not None:
                shutil.rmtree(d, ignore_errors=True)
                if os.path.exists(d):
                    problems.append("could not remove %s" % d)
        return problems

    def verify_clean(self):
        """After cleanup: nothing of ours in ipcs -m or /dev/shm."""
        ok = True
        left = self.our_segments()
        if left:
            ok = False
            print("LEFTOVER segments of this run: %s" % left, file=sys.stderr)
        out = subprocess.run(["ipcs", "-m"], capture_output=True,
                             text=True).stdout
        rows = [l for l in out.splitlines() if re.match(r"^0x[0-9a-f]+ ", l)]
        if rows:
            print("ipcs -m: %d segment(s), none made by this run:"
                  % len(rows))
            for l in rows:
                print("  " + l)
        else:
            print("ipcs -m: empty")
        # Only the temp dir is ours; what others made meanwhile (tests of
        # a concurrent run) is listed, not counted.
        new = sorted(set(os.listdir("/dev/shm")) - self.shm_before)
        mine = [n for n in new if self.shmdir is not None
                and n == os.path.basename(self.shmdir)]
        if mine:
            ok = False
            print("LEFTOVER in /dev/shm: %s" % mine, file=sys.stderr)
        else:
            print("/dev/shm: no leftovers")
        others = [n for n in new if n not in mine]
        if others:
            print("/dev/shm: new since the start, not made by this run: %s"
                  % others)
        return ok


def main():
    ap = argparse.ArgumentParser(
        description="Benchmark sysv-shm against ipcs/ipcmk/ipcrm/cat. "
        "Prints ratios; never fails on a timing.")
    add_json_arg(ap)
    ap.add_argument("--build-dir", default=DEFAULT_BUILD_DIR,
                    help="where sysv-shm is (default: $IPCTK_BUILD_DIR or "
                    "the repo's build/: %(default)s)")
    ap.add_argument("--runs", type=int, default=30,
                    help="measured runs per side for per-invocation pairs "
                    "(default %(default)s)")
    ap.add_argument("--transfer-runs", type=int, default=20,
                    help="measured runs per side for transfers below "
                    "--max-size (default %(default)s)")
    ap.add_argument("--big-runs", type=int, default=20,
                    help="measured runs per side for the --max-size "
                    "transfers (default %(default)s)")
    ap.add_argument("--quick", action="store_true",
                    help="a smoke run of a few seconds: 3 runs of every "
                    "row, transfers of 4 KiB and 1 MiB only")
    ap.add_argument("--max-size", type=parse_size, default=GIB,
                    help="largest transfer, e.g. 1G, 256M (default 1G); "
                    "4K, 1M and 64M below it run too")
    ap.add_argument("--input-dir", default=None,
                    help="directory for the input file F (default: a "
                    "temp dir in /dev/shm; e.g. /tmp for a disk-backed "
                    "file, read warm from the page cache)")
    ap.add_argument("--skip-invocations", action="store_true",
                    help="skip floor/stat/create+rm")
    ap.add_argument("--skip-transfers", action="store_true",
                    help="skip the read/write transfers")
    args = ap.parse_args()
    if args.quick:
        args.runs = args.transfer_runs = args.big_runs = 3
        args.max_size = MIB
    if min(args.runs, args.transfer_runs, args.big_runs) < 1:
        ap.error("--runs, --transfer-runs and --big-runs must be at least 1")

    return run_main(Bench(args))

if __name__ == "__main__":
    sys.exit(main())
