"""BENCHMARKS.md and its plot from the --json documents of one run of
tests/bench/run.

Pure functions over the documents (render_markdown, gnuplot_script) so that
tests/cli/test_bench.py can check them on fixtures; write_plot() writes the
data files and calls gnuplot. Stdlib only.
"""

import os
import subprocess

# The sections of BENCHMARKS.md, in order, and which script's rows go in
# each; a script not named here gets a section of its own at the end.
SECTIONS = [
    ("Start-up: one invocation", ["startup_bench.py"]),
    ("sysv-shm", ["shm_bench.py"]),
    ("sysv-sem", ["sem_bench.py"]),
    ("shmctl-lock", ["lock_bench.py"]),
    ("The lock library", ["lock_bench"]),
    ("Scale", ["scale_bench.py"]),
]

# Plot panels, in order; others follow in the order met.
PANELS = ["throughput", "alloc"]


def md_cell(text):
    return str(text).replace("|", "\\|").replace("\n", " ")


def section_of(script):
    for title, scripts in SECTIONS:
        if script in scripts:
            return title
    return script


def ordered_sections(docs):
    """[(title, [doc, ...])] in SECTIONS order, then unknown scripts."""
    by_title = {}
    order = [title for title, _ in SECTIONS]
    for doc in docs:
        title = section_of(doc.get("script", "?"))
        if title not in order:
            order.append(title)
        by_title.setdefault(title, []).append(doc)
    return [(t, by_title[t]) for t in order if t in by_title]


def tally(docs):
    """(met, missed rows, rows without a target, failed documents)."""
    met, missed, info, failed = 0, [], 0, []
    for doc in docs:
        if doc.get("status", 1) != 0:
            failed.append(doc)
        for row in doc.get("rows", []):
            if row.get("met") == "yes":
                met += 1
            elif row.get("met") == "NO":
                missed.append((doc.get("script", "?"), row))
            else:
                info += 1
    return met, missed, info, failed


def render_markdown(docs, meta, plot_name=None):
    """The text of BENCHMARKS.md. meta: command, commit, date, seconds,
    host, load (strings), as tests/bench/run saw them."""
    out = []
    out.append("# Benchmarks")
    out.append("")
    out.append("Written by `%s` on %s, commit `%s`, in %s. Do not edit by "
               "hand: run it again." % (meta.get("command", "tests/bench/run"),
                                      meta.get("date", "?"),
                                      meta.get("commit", "?"),
                                      meta.get("duration", "?")))
    out.append("")
    out.append("- Host: %s" % meta.get("host", "?"))
    out.append("- Load average before / after: %s / %s"
               % (meta.get("load_before", "?"), meta.get("load_after", "?")))
    out.append("- Ratio = ipctk / peer on the median wall time (lower is "
               "better), except throughput and rate rows, where it is "
               "ipctk's throughput / the peer's (higher is better). "
               "Each row's method says what was measured; "
               "`tests/bench/README.md` says how.")
    met, missed, info, failed = tally(docs)
    out.append("- Targets: **%d met, %d missed**; %d rows for information."
               % (met, len(missed), info))
    for doc in failed:
        out.append("- **%s failed** (exit status %s): its rows may be "
                   "incomplete." % (doc.get("script"), doc.get("status")))
    out.append("")
    if missed:
        out.append("Missed:")
        out.append("")
        for script, row in missed:
            out.append("- %s: %s, ratio %s, target %s"
                       % (script, md_cell(row.get("what")),
                          row.get("ratio"), row.get("target")))
        out.append("")
    if plot_name:
        out.append("![throughput against transfer size; lock-manager cost "
                   "against lock count](%s)" % plot_name)
        out.append("")
    for title, section_docs in ordered_sections(docs):
        out.append("## %s" % title)
        out.append("")
        for doc in section_docs:
            out.append("`%s %s`: %s s, load average at end %s."
                       % (doc.get("script"), " ".join(doc.get("argv", [])),
                          doc.get("seconds", "?"),
                          doc.get("load_at_end", "?")))
            out.append("")
            out.append("| what | ipctk | peer | ratio | target | met? "
                       "| runs | method |")
            out.append("|---|---|---|---|---|---|---|---|")
            for row in doc.get("rows", []):
                out.append("| %s |" % " | ".join(md_cell(c) for c in (
                    row.get("what", ""), row.get("ipctk", ""),
                    row.get("peer", ""), row.get("ratio", ""),
                    row.get("target", ""), row.get("met", ""),
                    row.get("runs", ""), row.get("method", ""))))
            out.append("")
            for row in doc.get("rows", []):
                if row.get("note"):
                    out.append("- %s: %s" % (md_cell(row.get("what")),
                                             md_cell(row["note"])))
            if any(row.get("note") for row in doc.get("rows", [])):
                out.append("")
    return "\n".join(out)


def merged_series(docs):
    """{panel: {"x", "y", "lines": {name: [[x, y], ...] sorted by x}}}."""
    panels = {}
    for doc in docs:
        for name, panel in (doc.get("series") or {}).items():
            into = panels.setdefault(name, {"x": panel.get("x", ""),
                                            "y": panel.get("y", ""),
                                            "lines": {}})
            for line, points in panel.get("lines", {}).items():
                into["lines"].setdefault(line, []).extend(points)
    for panel in panels.values():
        for points in panel["lines"].values():
            points.sort()
    order = [p for p in PANELS if p in panels] + \
        [p for p in panels if p not in PANELS]
    return [(name, panels[name]) for name in order]


def gp_quote(text):
    return '"%s"' % str(text).replace("\\", "\\\\").replace('"', '\\"')


def tick_label(x, in_bytes):
    """4096 -> "4 KiB" on a byte axis, "4,096" on a count axis."""
    if in_bytes:
        for unit, size in (("GiB", 1 << 30), ("MiB", 1 << 20),
                           ("KiB", 1 << 10)):
            if x >= size:
                return "%g %s" % (x / size, unit)
        return "%g B" % x
    return "{:,}".format(int(x)) if float(x).is_integer() else "%g" % x


def spans_decades(points, axis):
    values = [p[axis] for p in points if p[axis] > 0]
    return bool(values) and max(values) / min(values) >= 100


def gnuplot_script(panels, png_path, data_dir):
    """(gnuplot script, {data file name: text}) for the panels, one above
    the other in one PNG."""
    files = {}
    lines = ["set terminal png size 1000,%d" % (420 * max(1, len(panels))),
             "set output %s" % gp_quote(png_path),
             "set multiplot layout %d,1" % max(1, len(panels)),
             "set key below", "set rmargin 7",
             "set grid"]
    for i, (name, panel) in enumerate(panels):
        all_points = [p for pts in panel["lines"].values() for p in pts]
        lines.append("unset logscale")
        if spans_decades(all_points, 0):
            lines.append("set logscale x 2")
            # A little room at both ends, so the end ticks keep their labels.
            lo = min(p[0] for p in all_points if p[0] > 0)
            hi = max(p[0] for p in all_points)
            lines.append("set xrange [%r:%r]" % (lo / 1.25, hi * 1.25))
        else:
            lines.append("set autoscale x")
        if spans_decades(all_points, 1):
            lines.append("set logscale y 10")
        xs = sorted({p[0] for p in all_points})
        if 0 < len(xs) <= 12:
            in_bytes = "byte" in panel["x"]
            lines.append("set xtics (%s)" % ", ".join(
                "%s %r" % (gp_quote(tick_label(x, in_bytes)), float(x))
                for x in xs))
        else:
            lines.append("set xtics autofreq")
        lines.append("set title %s" % gp_quote(name))
        lines.append("set xlabel %s" % gp_quote(panel["x"]))
        lines.append("set ylabel %s" % gp_quote(panel["y"]))
        plots = []
        for j, (line, points) in enumerate(sorted(panel["lines"].items())):
            fname = "panel%d-line%d.dat" % (i, j)
            files[fname] = "".join("%r %r\n" % (float(x), float(y))
                                   for x, y in points)
            plots.append("%s using 1:2 with linespoints title %s"
                         % (gp_quote(os.path.join(data_dir, fname)),
                            gp_quote(line)))
        if plots:
            lines.append("plot " + ", \\\n     ".join(plots))
    lines.append("unset multiplot")
    return "\n".join(lines) + "\n", files


def write_plot(docs, png_path, data_dir):
    panels = merged_series(docs)
    if not panels:
        return False
    script, files = gnuplot_script(panels, png_path, data_dir)
    os.makedirs(data_dir, exist_ok=True)
    for name, text in files.items():
        with open(os.path.join(data_dir, name), "w") as f:
            f.write(text)
    script_path = os.path.join(data_dir, "plot.gp")
    with open(script_path, "w") as f:
        f.write(script)
    subprocess.run(["gnuplot", script_path], check=True)
    return True
