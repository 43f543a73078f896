"""What the benchmarks in tests/bench share: spawning and timing a child the
way subprocess.run does, alternating A/B pairs with medians and ratios, the
static no-op floor, the results table, and the main loop that cleans up on
an error, Ctrl-C, SIGTERM or SIGHUP.

Stdlib only. Each benchmark subclasses BenchBase with its own run(),
cleanup() (returns a list of problems) and verify_clean() (returns whether
nothing of the run is left), and calls run_main(bench).
"""

import gc
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

KIB = 1024
MIB = 1024 * KIB
GIB = 1024 * MIB

DEFAULT_BUILD_DIR = os.environ.get("IPCTK_BUILD_DIR") or os.path.normpath(
    os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                 "build"))


class BenchError(Exception):
    pass


class Interrupted(BaseException):
    """SIGTERM/SIGHUP, raised like KeyboardInterrupt so `finally` runs."""


def fmt_ms(ns):
    return "%.3f ms" % (ns / 1e6)


def fmt_rate(bytes_per_s):
    if bytes_per_s >= GIB:
        return "%.2f GiB/s" % (bytes_per_s / GIB)
    if bytes_per_s >= MIB:
        return "%.1f MiB/s" % (bytes_per_s / MIB)
    return "%.1f KiB/s" % (bytes_per_s / KIB)


def is_static_elf(path):
    """True if the ELF file has no PT_INTERP program header."""
    with open(path, "rb") as f:
        head = f.read(64)
        if head[:4] != b"\x7fELF" or head[4] != 2:  # 64-bit only
            return None
        order = "little" if head[5] == 1 else "big"
        phoff = int.from_bytes(head[32:40], order)
        phentsize = int.from_bytes(head[54:56], order)
        phnum = int.from_bytes(head[56:58], order)
        f.seek(phoff)
        table = f.read(phentsize * phnum)
    for i in range(phnum):
        p_type = int.from_bytes(table[i * phentsize:i * phentsize + 4], order)
        if p_type == 3:  # PT_INTERP
            return False
    return True


def linkage(path):
    """How `path` is linked, in words, for a header line."""
    return {True: "statically linked", False: "dynamically linked",
            None: "not a 64-bit ELF?"}[is_static_elf(path)]


def read_first_line(path, default="?"):
    try:
        with open(path) as f:
            return f.readline().strip()
    except OSError:
        return default


class Row:
    """One pair's result. By default the samples are wall times in ns and
    ratio = median A / median B (lower is better); with `size`, bytes moved
    per run, cells are throughputs and ratio = throughput A / throughput B.
    Subclasses change what a sample is by overriding cell() and span()."""

    def __init__(self, what, a_ns, b_ns, size=None, target=None):
        self.what = what
        self.a_ns = a_ns
        self.b_ns = b_ns
        self.size = size          # bytes moved per run: a throughput row
        self.target = target      # ("<=", 0.8), (">=", 0.9) or None
        self.a_med = statistics.median(a_ns)
        self.b_med = statistics.median(b_ns)
        if size is None:
            self.ratio = self.a_med / self.b_med
        else:  # throughput ratio = (size/a) / (size/b)
            self.ratio = self.b_med / self.a_med

    def cell(self, med):
        if self.size is None:
            return fmt_ms(med)
        return fmt_rate(self.size / (med / 1e9))

    def span(self, sample):
        """One sample as the min/max line shows it."""
        return fmt_ms(sample)

    def ratio_text(self):
        return "%.2f" % self.ratio

    def target_text(self):
        return "-" if self.target is None else "%s %.2f" % self.target

    def met(self):
        if self.target is None:
            return "-"
        op, value = self.target
        ok = self.ratio <= value if op == "<=" else self.ratio >= value
        return "yes" if ok else "NO"

    def to_json(self):
        """The row as tests/bench/run's report reads it (--json)."""
        return {
            "what": self.what.strip(),
            "ipctk": self.cell(self.a_med),
            "peer": self.cell(self.b_med),
            "ratio": self.ratio_text(),
            "ratio_value": self.ratio,
            "target": self.target_text(),
            "met": self.met(),
            "runs": len(self.a_ns),
            "ipctk_median": self.a_med,
            "peer_median": self.b_med,
            "size": self.size,
            "method": getattr(self, "method", "wall-clock median"),
            "note": getattr(self, "note", None),
        }


class BenchBase:
    # The line above the table: what the ratio is.
    ratio_note = "Ratio = ipctk / peer on median wall time."

    def __init__(self, args):
        self.args = args
        # pid -> [wall time started, wall time ended or None] of every child:
        # an object is ours only if one of them made it while it ran, so a
        # recycled pid of someone else's process is never taken for ours.
        self.pids = {}
        self.live = None          # the child running now, if any
        self.rows = []
        self.tmpdir = None        # for the static no-op binary
        self.start_time = time.time()
        # Data for tests/bench/run's plots: name -> {"x": label, "y": label,
        # "lines": {line name: [[x, y], ...]}} (see add_point).
        self.series = {}

    def create_keyed_set(self):
        """A new set of one semaphore (value 0) under a random key, made with
        --excl by self.sem; returns (id, key). Every key tried stays in
        self.tried_keys (the caller's set, which cleanup looks through for a
        set a crash left) unless it turned out to be someone else's."""
        for _ in range(50):
            key = self.rng.randrange(0x10000000, 0x7fffffff)
            self.tried_keys.add(key)
            _, out, status, err = self.spawn_status(
                [self.sem, "get", "--key", "0x%08x" % key, "--create",
                 "--excl", "--nsems", "1"], capture=True)
            if status == 0:
                return json.loads(out)["id"], key
            if b'"EEXIST"' not in err:
                raise BenchError("sysv-sem get --key 0x%08x --create --excl "
                                 "exited with %d: %s" % (
                                     key, status,
                                     err.decode("utf-8", "replace").strip()))
            self.tried_keys.discard(key)   # someone else's: never touched
        raise BenchError("no free semaphore key found in 50 tries")

    def add_point(self, plot, line, x, y, x_label="", y_label=""):
        """Records one point of a plot that --json writes out."""
        entry = self.series.setdefault(
            plot, {"x": x_label, "y": y_label, "lines": {}})
        entry["lines"].setdefault(line, []).append([x, y])

    # -- spawning ---------------------------------------------------------

    def spawn(self, argv, stdout=subprocess.DEVNULL, out_path=None,
              out_trunc=True, capture=False, **popen_kw):
        """Runs argv to completion; returns (wall ns, stdout bytes or None).

        The timed region is what subprocess.run does (Popen + communicate),
        plus, with out_path, opening the output file the way a shell's `>`
        (or `1<>` with out_trunc=False) would. stderr is a pipe on both
        sides of every pair so that a failure can be reported.
        """
        ns, out, status, err = self.spawn_status(argv, stdout, out_path,
                                                 out_trunc, capture,
                                                 **popen_kw)
        if status != 0:
            raise BenchError("%s exited with %d: %s" % (
                " ".join(argv), status,
                err.decode("utf-8", "replace").strip()))
        return ns, out

    def spawn_status(self, argv, stdout=subprocess.DEVNULL, out_path=None,
                     out_trunc=True, capture=False, **popen_kw):
        """Like spawn, but a failure is returned, not raised:
        (wall ns, stdout bytes or None, exit status, stderr bytes).
        popen_kw goes to Popen (e.g. user=, group=, extra_groups=)."""
        fd = None
        t0 = time.perf_counter_ns()
        try:
            if out_path is not None:
                flags = os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC
                if out_trunc:
                    flags |= os.O_TRUNC
                fd = os.open(out_path, flags, 0o600)
                stdout = fd
            if capture:
                stdout = subprocess.PIPE
            with subprocess.Popen(argv, stdin=subprocess.DEVNULL,
                                  stdout=stdout,
                                  stderr=subprocess.PIPE,
                                  **popen_kw) as p:
                self.pids[p.pid] = [time.time(), None]
                self.live = p
                out, err = p.communicate()
                self.pids[p.pid][1] = time.time()
                self.live = None
        finally:
            if fd is not None:
                os.close(fd)
        t1 = time.perf_counter_ns()
        return t1 - t0, out, p.returncode, err

    def ours(self, pid, when=None):
        """Whether `pid` was one of our children (running at `when`)."""
        span = self.pids.get(pid)
        if span is None:
            return False
        if when is None:
            return True
        end = span[1] if span[1] is not None else time.time()
        return span[0] - 1 <= when <= end + 1

    def kill_live(self):
        p = self.live
        if p is not None and p.poll() is None:
            p.kill()
            p.wait()
        self.live = None

    # -- measuring --------------------------------------------------------

    def pair(self, what, a, b, runs, size=None, target=None, row_class=Row):
        """Warm-up a and b once, then runs a b a b ...; records a Row."""
        a()
        b()
        a_ns, b_ns = [], []
        gc.disable()
        try:
            for _ in range(runs):
                a_ns.append(a())
                b_ns.append(b())
        finally:
            gc.enable()
        row = row_class(what, a_ns, b_ns, size, target)
        self.rows.append(row)
        extra = ""
        if size is not None:
            extra = "  [%s vs %s]" % (fmt_ms(row.a_med), fmt_ms(row.b_med))
        print("  %-48s ipctk %-12s peer %-12s ratio %5.2f  target %-7s %s%s"
              % (what, row.cell(row.a_med), row.cell(row.b_med), row.ratio,
                 row.target_text(), row.met(), extra))
        print("  %-48s n=%d; ipctk min/max %s/%s; peer min/max %s/%s"
              % ("", runs, row.span(min(a_ns)), row.span(max(a_ns)),
                 row.span(min(b_ns)), row.span(max(b_ns))))
        sys.stdout.flush()
        return row

    def build_static_true(self):
        self.tmpdir = tempfile.mkdtemp(prefix="ipctk-bench.")
        exe = os.path.join(self.tmpdir, "static-true")
        subprocess.run(["gcc", "-static", "-O2", "-x", "c", "-", "-o", exe],
                       input=b"int main(){return 0;}", check=True)
        return exe

    def floor_pair(self, runs):
        """The cost of exec itself: a static no-op against /bin/true."""
        static_true = self.build_static_true()
        dyn_true = shutil.which("true") or "/bin/true"
        return self.pair("floor: static no-op (peer %s)" % dyn_true,
                         lambda: self.spawn([static_true])[0],
                         lambda: self.spawn([dyn_true])[0], runs)

    def remove_tmpdir(self, problems):
        if self.tmpdir is not None:
            shutil.rmtree(self.tmpdir, ignore_errors=True)
            if os.path.exists(self.tmpdir):
                problems.append("could not remove %s" % self.tmpdir)

    # -- reporting --------------------------------------------------------

    @staticmethod
    def host_line():
        return "kernel %s, %d CPUs, %s" % (
            os.uname().release, os.cpu_count(),
            next((l.split(":", 1)[1].strip()
                  for l in open("/proc/cpuinfo") if l.startswith("model name")),
                 "?"))

    @staticmethod
    def loadavg():
        text = read_first_line("/proc/loadavg")
        load = " ".join(text.split()[:3])
        try:
            if float(text.split()[0]) > 0.75 * (os.cpu_count() or 1):
                load += " (busy machine: expect noisy numbers)"
        except (ValueError, IndexError):
            pass
        return load

    def print_table(self):
        head = ("what", "ipctk", "peer", "ratio", "target", "met?")
        body = [(r.what, r.cell(r.a_med), r.cell(r.b_med),
                 r.ratio_text(), r.target_text(), r.met())
                for r in self.rows]
        widths = [max(len(row[i]) for row in [head] + body)
                  for i in range(len(head))]
        print("\n" + self.ratio_note)
        line = "  ".join("%-*s" % (w, h) for w, h in zip(widths, head))
        print(line.rstrip())
        print("-" * len(line))
        for row in body:
            print("  ".join(
                ("%-*s" if i == 0 else "%*s") % (widths[i], row[i])
                for i in range(len(row))))
        print("load average at end: %s" % self.loadavg())
        missed = [r.what.strip() for r in self.rows if r.met() == "NO"]
        print("\ntargets: %d met, %d missed%s" % (
            sum(r.met() == "yes" for r in self.rows), len(missed),
            (" (" + "; ".join(missed) + ")") if missed else ""))


def add_json_arg(ap):
    """The --json option every benchmark script takes (tests/bench/run)."""
    ap.add_argument("--json", metavar="FILE", default=None,
                    help="also write the rows and plot data to FILE as JSON "
                         "(tests/bench/run reads it)")


def write_json(bench, path, status):
    doc = {
        "script": os.path.basename(sys.argv[0]),
        "argv": sys.argv[1:],
        "status": status,
        "host": bench.host_line(),
        "load_at_end": bench.loadavg(),
        "seconds": round(time.time() - bench.start_time, 1),
        "rows": [r.to_json() for r in bench.rows],
        "series": bench.series,
    }
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")
    os.replace(tmp, path)


def run_main(bench):
    """Runs bench.run(), then always bench.cleanup() and
    bench.verify_clean(); SIGTERM and SIGHUP end the run like Ctrl-C.
    Returns the exit status: 0, 1 (an error or a leftover) or 130."""

    def on_signal(signum, _frame):
        raise Interrupted("signal %d" % signum)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGHUP, on_signal)

    status = 0
    try:
        bench.run()
    except (BenchError, OSError, subprocess.SubprocessError) as e:
        sys.stdout.flush()
        print("error: %s" % e, file=sys.stderr)
        status = 1
    except (KeyboardInterrupt, Interrupted) as e:
        print("\ninterrupted (%s); cleaning up" % (str(e) or "Ctrl-C"),
              file=sys.stderr)
        status = 130
    finally:
        for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(s, signal.SIG_IGN)
        problems = bench.cleanup()
        for p in problems:
            print("cleanup: %s" % p, file=sys.stderr)
        if not bench.verify_clean() or problems:
            status = status or 1
    json_path = getattr(bench.args, "json", None)
    if json_path:
        write_json(bench, json_path, status)
    return status
