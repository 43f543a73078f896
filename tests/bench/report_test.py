"""Tests of tests/bench/run and report.py: the report on fixture documents,
and a --quick run of every benchmark end to end (it must finish, and every
benchmark must verify its results and that it left nothing behind, and
exit 0; the report must have every row and both plots). Timings are never asserted.

Run by meson (`meson test -C build 'bench report'`), or directly with
IPCTK_BUILD_DIR set to a release build.
"""

import importlib.machinery
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(ROOT, "tests", "cli"))

import report  # noqa: E402
from ipctk_test import BUILD_DIR  # noqa: E402

# tests/bench/run has no .py: load it by path for its list of benchmarks.
_loader = importlib.machinery.SourceFileLoader("bench_run",
                                               os.path.join(HERE, "run"))
_run = importlib.util.module_from_spec(
    importlib.util.spec_from_loader("bench_run", _loader))
_loader.exec_module(_run)
BENCHMARKS = _run.BENCHMARKS


def row(what, ratio, target="-", met="-", note=None):
    return {"what": what, "ipctk": "1 ms", "peer": "2 ms",
            "ratio": "%.2f" % ratio, "ratio_value": ratio, "target": target,
            "met": met, "runs": 20, "method": "wall-clock median",
            "note": note}


FIXTURE = [
    {"script": "shm_bench.py", "argv": ["--runs", "20"], "status": 0,
     "seconds": 12.5, "load_at_end": "0.5 0.4 0.3",
     "rows": [row("stat ID (peer ipcs -m -i ID)", 0.7, "<= 0.80", "yes"),
              row("write 1 GiB | fresh", 0.5, ">= 0.90", "NO",
                  note="the page | faults")],
     "series": {"throughput": {"x": "bytes", "y": "MiB/s", "lines": {
         "ipctk write": [[1073741824, 800.0], [4096, 3.0]],
         "cat write": [[4096, 2.0], [1073741824, 2900.0]]}}}},
    {"script": "lock_bench", "argv": [], "status": 1, "seconds": 3,
     "rows": [row("handoff latency", 1.1)],
     "series": {"alloc": {"x": "locks", "y": "ns per lock", "lines": {
         "LockManager::allocate": [[2048, 20.0], [1048576, 22.0]]}}}},
    {"script": "new_bench.py", "argv": [], "status": 0, "rows": []},
]

META = {"command": "tests/bench/run", "date": "2026-11-23 12:00 UTC",
        "commit": "abc123", "duration": "9 min 59 s", "host": "h",
        "load_before": "0.1", "load_after": "0.2"}


class ReportTest(unittest.TestCase):

    def test_tally_counts_met_missed_information_and_failures(self):
        met, missed, info, failed = report.tally(FIXTURE)
        self.assertEqual(met, 1)
        self.assertEqual([r["what"] for _, r in missed],
                         ["write 1 GiB | fresh"])
        self.assertEqual(info, 1)
        self.assertEqual([d["script"] for d in failed], ["lock_bench"])

    def test_markdown_lists_every_row_in_section_order(self):
        text = report.render_markdown(FIXTURE, META, "benchmarks.png")
        self.assertIn("**1 met, 1 missed**; 1 rows for information", text)
        self.assertIn("**lock_bench failed** (exit status 1)", text)
        self.assertIn("- shm_bench.py: write 1 GiB \\| fresh, ratio 0.50, "
                      "target >= 0.90", text)
        self.assertIn("| stat ID (peer ipcs -m -i ID) | 1 ms | 2 ms | 0.70 "
                      "| <= 0.80 | yes | 20 | wall-clock median |", text)
        self.assertIn("- write 1 GiB \\| fresh: the page \\| faults", text)
        self.assertIn("](benchmarks.png)", text)
        self.assertIn("commit `abc123`", text)
        # Known sections in SECTIONS order, an unknown script last.
        heads = [l for l in text.splitlines() if l.startswith("## ")]
        self.assertEqual(heads, ["## sysv-shm", "## The lock library",
                                 "## new_bench.py"])
        # A pipe in a cell must not split the table row.
        for line in text.splitlines():
            if line.startswith("| write 1 GiB"):
                self.assertEqual(line.count(" | "), 7)

    def test_no_plot_no_image(self):
        self.assertNotIn("![", report.render_markdown(FIXTURE, META, None))

    def test_series_are_merged_sorted_and_ordered(self):
        panels = report.merged_series(FIXTURE)
        self.assertEqual([n for n, _ in panels], ["throughput", "alloc"])
        lines = panels[0][1]["lines"]
        self.assertEqual(lines["ipctk write"],
                         [[4096, 3.0], [1073741824, 800.0]])

    def test_gnuplot_script_logscales_decades_and_writes_data(self):
        panels = report.merged_series(FIXTURE)
        script, files = report.gnuplot_script(panels, "/o/p.png", "/d")
        self.assertIn("set multiplot layout 2,1", script)
        self.assertIn('set output "/o/p.png"', script)
        _, first, second = script.split("unset logscale")
        self.assertIn('set title "throughput"', first)
        self.assertIn('set title "alloc"', second)
        self.assertIn("set logscale x 2", first)
        self.assertIn("set logscale y 10", first)   # 2 .. 2900 MiB/s
        self.assertIn("set logscale x 2", second)
        self.assertNotIn("set logscale y", second)  # 20 .. 22 ns
        self.assertIn('set xtics ("4 KiB" 4096.0, "1 GiB" 1073741824.0)',
                      first)
        self.assertIn('set xtics ("2,048" 2048.0, "1,048,576" 1048576.0)',
                      second)
        self.assertEqual(len(files), 3)
        self.assertIn("4096.0 3.0\n1073741824.0 800.0\n", files.values())


@unittest.skipUnless(os.path.exists(os.path.join(BUILD_DIR, "tests", "bench",
                                                 "lock_bench")),
                     "no benchmark binaries in this build (a sanitizer "
                     "build does not build them)")
class QuickRunTest(unittest.TestCase):
    """tests/bench/run --quick: every benchmark, end to end."""

    def test_quick_run_reports_every_benchmark(self):
        with tempfile.TemporaryDirectory(prefix="ipctk-bench-test.") as out:
            p = subprocess.run(
                [sys.executable, os.path.join(HERE, "run"), "--quick",
                 "--no-build", "--build-dir", BUILD_DIR, "--out", out],
                stdin=subprocess.DEVNULL, capture_output=True, text=True,
                timeout=600)
            self.assertEqual(p.returncode, 0, p.stdout[-4000:] + p.stderr)
            with open(os.path.join(out, "BENCHMARKS.md")) as f:
                text = f.read()
            with open(os.path.join(out, "benchmarks.png"), "rb") as f:
                self.assertEqual(f.read(8), b"\x89PNG\r\n\x1a\n")
            results = os.path.join(out, "results")
            docs = {}
            for name in os.listdir(results):
                if name.endswith(".json"):
                    with open(os.path.join(results, name)) as f:
                        doc = json.load(f)
                    docs[doc["script"]] = doc
        self.assertEqual(sorted(docs), sorted(n for n, _ in BENCHMARKS))
        for script, doc in docs.items():
            self.assertEqual(doc["status"], 0, script)
            self.assertTrue(doc["rows"], "%s gave no rows" % script)
            for r in doc["rows"]:
                self.assertIn("| %s |" % r["what"].replace("|", "\\|"), text)
                # A row with a target has a verdict, and a verdict a
                # target.
                self.assertEqual(r["target"] != "-",
                                 r["met"] in ("yes", "NO"), r)
        panels = dict(report.merged_series(list(docs.values())))
        self.assertIn("throughput", panels)
        self.assertIn("alloc", panels)
        self.assertNotIn("failed**", text)


if __name__ == "__main__":
    unittest.main()
