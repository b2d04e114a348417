#!/usr/bin/env python3
"""Corral against Slurm: the table and the SVG charts from `corral bench` JSON reports.

    scripts/slurm-bench/report.py OUTDIR [--charts DIR]

Reads every `bench-*.json` under OUTDIR (as `scripts/bench-vs-slurm.sh` lays
them out: one directory per round, `system` in each report), writes
OUTDIR/table.md (Corral, Slurm, ratio, the goal of issue 7, per workload:
the median over rounds and the min-max of the rounds) and the charts
(submit latency and squeue time against pending jobs, both systems; one
scheduling pass against jobs and against nodes) into --charts
(default OUTDIR/charts). Python 3 standard library only.
"""

import argparse
import json
import math
import statistics
import sys
from pathlib import Path

CORRAL_COLOUR = "#1f77b4"
SLURM_COLOUR = "#d62728"


def load_reports(outdir):
    reports = []
    for path in sorted(outdir.rglob("bench-*.json")):
        try:
            report = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError) as error:
            sys.exit(f"{path}: not a benchmark report: {error}")
        report["_path"] = str(path)
        reports.append(report)
    return reports


def of(reports, benchmark, system):
    return [r for r in reports if r["benchmark"] == benchmark and r.get("system", "corral") == system]


def spread(values):
    """(median, min, max) or None."""
    values = [v for v in values if v is not None]
    if not values:
        return None
    return statistics.median(values), min(values), max(values)


def fmt(value, unit, digits):
    if value is None:
        return "-"
    return f"{value:,.{digits}f}{unit}"


def cell(s, unit="", digits=1):
    if s is None:
        return "not measured"
    median, low, high = s
    return f"{fmt(median, unit, digits)} ({fmt(low, '', digits)}-{fmt(high, '', digits)})"


def latency_medians(reports):
    return [run["summary_ms"]["median"] for r in reports for run in r["runs"]]


def latency_p99s(reports):
    return [run["summary_ms"]["p99"] for r in reports for run in r["runs"]]


def throughput(reports, k):
    rates = []
    for r in reports:
        for run in r["runs"]:
            rates += [e["jobs_per_second"] for e in run if e["concurrency"] == k]
    return rates


def drain_seconds(reports):
    return [run["drain_ms"] / 1000.0 for r in reports for run in r["runs"]]


def queue_levels(reports):
    """{pending: [level, ...]} over every round."""
    levels = {}
    for r in reports:
        for level in r["runs"]:
            levels.setdefault(level["pending_jobs"], []).append(level)
    return levels


def queue_measure(reports, size, measure):
    return [measure(level) for level in queue_levels(reports).get(size, [])]


def ratio(corral, slurm, better_lower):
    if corral is None or slurm is None or corral[0] == 0 or slurm[0] == 0:
        return "-"
    if better_lower:
        return f"Corral {slurm[0] / corral[0]:.1f}x faster" if slurm[0] >= corral[0] else f"Corral {corral[0] / slurm[0]:.1f}x slower"
    return f"Corral {corral[0] / slurm[0]:.1f}x" if corral[0] >= slurm[0] else f"Corral {corral[0] / slurm[0]:.2f}x"


def verdict(met):
    return "met" if met else "**missed**"


def table(reports):
    rows = []
    c, s = of(reports, "submit-latency", "corral"), of(reports, "submit-latency", "slurm")
    lc, ls = spread(latency_medians(c)), spread(latency_medians(s))
    goal = "-" if lc is None or ls is None else verdict(lc[0] <= ls[0] / 2)
    rows.append(("`sbatch --hold --wrap true`, one process, median", cell(lc, " ms"), cell(ls, " ms"), ratio(lc, ls, True), f"at most half of Slurm's: {goal}"))
    pc, ps = spread(latency_p99s(c)), spread(latency_p99s(s))
    rows.append(("the same, p99 of a run", cell(pc, " ms"), cell(ps, " ms"), ratio(pc, ps, True), ""))
    c, s = of(reports, "submit-throughput", "corral"), of(reports, "submit-throughput", "slurm")
    for k in (1, 2, 4, 8):
        tc, ts = spread(throughput(c, k)), spread(throughput(s, k))
        goal = ""
        if k == 8:
            goal = "at least 3x Slurm's: " + ("-" if tc is None or ts is None else verdict(tc[0] >= 3 * ts[0]))
        rows.append((f"`sbatch` processes, K = {k} at once, jobs/s", cell(tc, "", 0), cell(ts, "", 0), ratio(tc, ts, False), goal))
    c, s = of(reports, "drain", "corral"), of(reports, "drain", "slurm")
    for jobs in sorted({r["parameters"]["jobs"] for r in c + s}):
        dc = spread(drain_seconds([r for r in c if r["parameters"]["jobs"] == jobs]))
        ds = spread(drain_seconds([r for r in s if r["parameters"]["jobs"] == jobs]))
        goal = "at least 10x faster: " + ("-" if dc is None or ds is None else verdict(ds[0] >= 10 * dc[0]))
        rows.append((f"`drain`: {jobs:,} jobs `--wrap true`, first submission to last end, s", cell(dc, " s"), cell(ds, " s"), ratio(dc, ds, True), goal))
    c, s = of(reports, "queue", "corral"), of(reports, "queue", "slurm")
    sizes = sorted(set(queue_levels(c)) | set(queue_levels(s)))
    for size in sizes:
        sq = lambda level: level["squeue_summary_ms"]["median"]
        qc, qs = spread(queue_measure(c, size, sq)), spread(queue_measure(s, size, sq))
        goal = ""
        if size == 10_000:
            goal = "under 100 ms: " + ("-" if qc is None else verdict(qc[0] < 100))
        rows.append((f"`squeue` (all jobs) with {size:,} pending, ms", cell(qc, " ms"), cell(qs, " ms"), ratio(qc, qs, True), goal))
    for size in sizes:
        sb = lambda level: level["sbatch_summary_ms"]["median"]
        bc, bs = spread(queue_measure(c, size, sb)), spread(queue_measure(s, size, sb))
        rows.append((f"`sbatch` with {size:,} pending, ms", cell(bc, " ms"), cell(bs, " ms"), ratio(bc, bs, True), ""))
    for size in sizes:
        mem = lambda level: level["leader_rss_bytes"] / 1048576.0
        mc, ms = spread(queue_measure(c, size, mem)), spread(queue_measure(s, size, mem))
        goal = ""
        if size == 100_000:
            goal = "under 500 MiB: " + ("-" if mc is None else verdict(mc[0] < 500))
        rows.append((f"controller memory (leader / slurmctld RSS) with {size:,} pending, MiB", cell(mc, " MiB", 0), cell(ms, " MiB", 0), ratio(mc, ms, True), goal))
    for size in sizes:
        fill = lambda level: level["fill_jobs_per_second"]
        fc, fs = spread(queue_measure(c, size, fill)), spread(queue_measure(s, size, fill))
        rows.append((f"filling the queue to {size:,}, jobs/s (Corral: client API; Slurm: 8 sbatch at once)", cell(fc, "", 0), cell(fs, "", 0), ratio(fc, fs, False), ""))
    lines = [
        "| measure | Corral, median (min-max of rounds) | Slurm 22.05, median (min-max) | ratio | goal (issue 7) |",
        "|---|---|---|---|---|",
    ]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def nice_ticks(low, high, count=5):
    if high <= low:
        high = low + 1
    raw = (high - low) / count
    magnitude = 10 ** math.floor(math.log10(raw))
    step = min((m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw), default=raw)
    start = math.floor(low / step) * step
    ticks = []
    value = start
    while value <= high + step * 1e-9:
        ticks.append(round(value, 10))
        value += step
    return ticks


def label(value):
    if value >= 1000 and value == int(value):
        return f"{int(value):,}"
    if value == int(value):
        return str(int(value))
    return f"{value:g}"


def svg_chart(path, title, x_label, y_label, series, log_x=False):
    """series: [(name, colour, [(x, y), ...])]."""
    width, height = 640, 400
    left, right, top, bottom = 70, 20, 40, 60
    points = [p for _, _, ps in series for p in ps]
    if not points:
        return False
    xs = [x for x, _ in points]
    ys = [y for _, y in points]
    if log_x:
        low_x, high_x = math.log10(min(xs)), math.log10(max(xs))
        if high_x == low_x:
            high_x += 1
        x_ticks = [10 ** e for e in range(math.floor(low_x), math.ceil(high_x) + 1)]
        low_x, high_x = math.log10(x_ticks[0]), math.log10(x_ticks[-1])
        fx = lambda x: math.log10(x)
    else:
        x_ticks = nice_ticks(0, max(xs))
        low_x, high_x = x_ticks[0], x_ticks[-1]
        fx = lambda x: x
    y_ticks = nice_ticks(0, max(ys) * 1.05)
    low_y, high_y = y_ticks[0], y_ticks[-1]
    px = lambda x: left + (fx(x) - low_x) / (high_x - low_x) * (width - left - right)
    py = lambda y: height - bottom - (y - low_y) / (high_y - low_y) * (height - top - bottom)
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="12">',
        f'<rect width="{width}" height="{height}" fill="white"/>',
        f'<text x="{width / 2}" y="22" text-anchor="middle" font-size="15">{title}</text>',
    ]
    for t in y_ticks:
        y = py(t)
        out.append(f'<line x1="{left}" y1="{y:.1f}" x2="{width - right}" y2="{y:.1f}" stroke="#ddd"/>')
        out.append(f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end">{label(t)}</text>')
    for t in x_ticks:
        x = px(t)
        out.append(f'<line x1="{x:.1f}" y1="{top}" x2="{x:.1f}" y2="{height - bottom}" stroke="#eee"/>')
        out.append(f'<text x="{x:.1f}" y="{height - bottom + 18}" text-anchor="middle">{label(t)}</text>')
    out.append(f'<line x1="{left}" y1="{height - bottom}" x2="{width - right}" y2="{height - bottom}" stroke="black"/>')
    out.append(f'<line x1="{left}" y1="{top}" x2="{left}" y2="{height - bottom}" stroke="black"/>')
    out.append(f'<text x="{(left + width - right) / 2}" y="{height - 18}" text-anchor="middle">{x_label}</text>')
    out.append(f'<text x="16" y="{(top + height - bottom) / 2}" text-anchor="middle" transform="rotate(-90 16 {(top + height - bottom) / 2})">{y_label}</text>')
    for index, (name, colour, ps) in enumerate(series):
        ps = sorted(ps)
        if len(ps) > 1:
            coords = " ".join(f"{px(x):.1f},{py(y):.1f}" for x, y in ps)
            out.append(f'<polyline points="{coords}" fill="none" stroke="{colour}" stroke-width="2"/>')
        for x, y in ps:
            out.append(f'<circle cx="{px(x):.1f}" cy="{py(y):.1f}" r="3.5" fill="{colour}"><title>{name}: {label(x)} -&gt; {y:.1f}</title></circle>')
        ly = top + 8 + 18 * index
        out.append(f'<rect x="{left + 12}" y="{ly}" width="14" height="4" fill="{colour}"/>')
        out.append(f'<text x="{left + 32}" y="{ly + 6}">{name}</text>')
    out.append("</svg>")
    path.write_text("\n".join(out) + "\n")
    return True


def queue_series(reports, system, measure):
    levels = queue_levels(of(reports, "queue", system))
    return [(size, statistics.median(measure(l) for l in group)) for size, group in sorted(levels.items())]


def schedule_points(reports, vary):
    """Median pass time (empty and full cluster) per jobs or nodes, the other fixed at its largest."""
    runs = of(reports, "schedule", "corral")
    if not runs:
        return [], []
    fixed = "nodes" if vary == "jobs" else "jobs"
    top = max(r["parameters"][fixed] for r in runs)
    chosen = [r for r in runs if r["parameters"][fixed] == top]
    empty = sorted((r["parameters"][vary], r["summary"]["empty_cluster_ms"]["median"]) for r in chosen)
    full = sorted((r["parameters"][vary], r["summary"]["full_cluster_ms"]["median"]) for r in chosen)
    return empty, full, top


def charts(reports, directory):
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    sbatch = lambda level: level["sbatch_summary_ms"]["median"]
    squeue = lambda level: level["squeue_summary_ms"]["median"]
    for name, title, y_label, measure in (
        ("submit-latency-vs-jobs.svg", "sbatch --hold --wrap true, one process: median", "milliseconds", sbatch),
        ("squeue-vs-jobs.svg", "squeue (all jobs, default format), one process: median", "milliseconds", squeue),
    ):
        series = [
            ("Corral (3 controllers)", CORRAL_COLOUR, queue_series(reports, "corral", measure)),
            ("Slurm 22.05", SLURM_COLOUR, queue_series(reports, "slurm", measure)),
        ]
        if svg_chart(directory / name, title, "pending jobs in the queue (log scale)", y_label, series, log_x=True):
            written.append(name)
    for vary in ("jobs", "nodes"):
        found = schedule_points(reports, vary)
        if not found[0]:
            continue
        empty, full, top = found
        fixed = "nodes" if vary == "jobs" else "pending jobs"
        name = f"schedule-vs-{vary}.svg"
        series = [
            ("empty cluster (the pass fills it)", CORRAL_COLOUR, empty),
            ("full cluster (nothing fits)", "#2ca02c", full),
        ]
        x_label = "pending jobs" if vary == "jobs" else "nodes"
        if svg_chart(directory / name, f"Corral: one scheduling pass, {top:,} {fixed}", x_label, "milliseconds (median)", series):
            written.append(name)
    return written


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("outdir", type=Path)
    parser.add_argument("--charts", type=Path)
    args = parser.parse_args()
    reports = load_reports(args.outdir)
    if not reports:
        sys.exit(f"no bench-*.json under {args.outdir}")
    text = table(reports)
    (args.outdir / "table.md").write_text(text)
    print(text)
    written = charts(reports, args.charts or args.outdir / "charts")
    print("charts:", ", ".join(written) or "none")


if __name__ == "__main__":
    main()
