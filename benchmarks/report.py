"""Writing a run's results: JSON (everything), Markdown (figures, ratios, machine, tool
versions, limits) and a PNG chart of the ratios."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from benchmarks.model import ContenderResult, WorkloadResult

DETAILS = (
    ("cpu_s", "CPU s (user+sys)", "{:.2f}"),
    ("server_cpu_s", "server CPU s", "{:.2f}"),
    ("mib_per_s", "MiB/s", "{:.0f}"),
    ("peak_rss_mib", "peak RSS MiB", "{:.0f}"),
    ("p50_ms", "p50 ms", "{:.2f}"),
    ("p99_ms", "p99 ms", "{:.2f}"),
    ("socket_errors", "socket errors", "{:.0f}"),
    ("server_rss_mib", "server RSS MiB", "{:.0f}"),
    ("server_5xx", "5xx", "{:.0f}"),
    ("slow_held", "slow readers held", "{:.0f}"),
    ("latecomers", "latecomers answered", "{:.0f}"),
    ("fds_before", "fds before", "{:.0f}"),
    ("fds_after", "fds after", "{:.0f}"),
)
RATIO_NOTE = (
    "Runs per contender: {runs}, alternating (A B A B ...); figures are medians, (min-max) "
    "of the runs beside them; CPU s = user + system seconds of the client's process tree "
    "(of the server's in workloads 7-9, datamirror's own without its S3 store's). Ratio = "
    "datamirror against the best peer setting; above 1 means datamirror is better."
)
LIMIT_NAMES = {
    "memory_copy": "memory copy",
    "loopback_tcp": "loopback TCP (1 connection)",
    "xxh3_128": "xxh3-128 (1 core)",
    "md5": "md5 (1 core)",
    "sha256": "sha256 (1 core)",
}


def document(meta: dict[str, Any], results: list[WorkloadResult]) -> dict[str, Any]:
    return {
        **meta,
        "workloads": [r.to_json() for r in results],
        "failures": [f for r in results for f in r.failures],
        "not_run": [
            f"{r.key} / {c.name}: {c.not_run}" for r in results for c in r.contenders if c.not_run
        ],
    }


def write_all(
    folder: Path, stem: str, doc: dict[str, Any], results: list[WorkloadResult]
) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = [folder / f"{stem}.json", folder / f"{stem}.md"]
    paths[0].write_text(json.dumps(doc, indent=2) + "\n")
    png = folder / f"{stem}.png"
    drawn = chart(png, results, f"datamirror vs best peer, {doc['date'][:10]} ({doc['mode']})")
    paths[1].write_text(markdown(doc, results, png.name if drawn else None))
    return [*paths, png] if drawn else paths


def _fmt(value: float | None, pattern: str = "{:.2f}") -> str:
    return "-" if value is None else pattern.format(value)


def _spread(spread: tuple[float, float] | None, pattern: str = "{:.2f}") -> str:
    if spread is None:
        return "-"
    return f"{pattern.format(spread[0])}-{pattern.format(spread[1])}"


def _with_spread(median: float | None, spread: tuple[float, float] | None) -> str:
    """A median with the runs' range: `3.08 (2.95-3.20)`; the median alone for one run."""
    if median is None:
        return "-"
    if spread is None or spread[0] == spread[1]:
        return _fmt(median)
    return f"{_fmt(median)} ({_spread(spread)})"


def _cpu(c: ContenderResult | None) -> str:
    """Median CPU seconds with their range; the server's when the workload serves."""
    if c is None:
        return "-"
    key = "server_cpu_s" if c.median_detail("server_cpu_s") is not None else "cpu_s"
    return _with_spread(c.median_detail(key), c.spread_detail(key))


def _cell(text: str) -> str:
    """Text that stays inside one Markdown table cell."""
    return " ".join(text.split()).replace("|", "\\|")


def _status(c: ContenderResult) -> str:
    if c.not_run:
        return f"not run: {c.not_run}"
    if c.error:
        return f"FAILED: {c.error[:200]}"
    return "ok"


def _fraction(result: WorkloadResult, c: ContenderResult, limits: dict[str, float]) -> str:
    rate = c.median_detail("mib_per_s")
    if result.limit is None or rate is None or result.limit not in limits:
        return ""
    return f"{rate / limits[result.limit]:.0%}"


def _workload_section(result: WorkloadResult, limits: dict[str, float]) -> list[str]:
    unit = result.metric.unit
    better = "higher" if result.metric.higher_is_better else "lower"
    lines = [
        f"### {result.key}: {result.title}",
        "",
        f"Figure: median {result.metric.name} in {unit} ({better} is better)."
        + (f" {result.notes.rstrip('.')}." if result.notes else ""),
        "",
    ]
    used = [d for d in DETAILS if any(c.median_detail(d[0]) is not None for c in result.contenders)]
    head = ["contender", f"median {unit}", "min-max", "runs", *(d[1] for d in used)]
    if result.limit:
        head.append(f"of {LIMIT_NAMES.get(result.limit, result.limit)}")
    head.append("status")
    lines += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for c in result.contenders:
        name = _cell(c.name)
        row = [
            f"**{name}**" if c.is_datamirror else name,
            _fmt(c.median),
            _spread(c.spread),
            str(len(c.samples)),
            *(_fmt(c.median_detail(key), pattern) for key, _, pattern in used),
        ]
        if result.limit:
            row.append(_fraction(result, c, limits))
        row.append(_cell(_status(c)))
        lines.append("| " + " | ".join(row) + " |")
    lines.append("")
    if result.target is not None:
        lines += [_target_line(result), ""]
    return lines


def _target_line(result: WorkloadResult) -> str:
    values = [s.value for c in result.contenders if c.is_datamirror and c.ok for s in c.samples]
    if not values:
        return f"Target <= {result.target:.0f} {result.metric.unit}: not measured."
    verdict = "met" if result.target is not None and max(values) <= result.target else "MISSED"
    return (
        f"Target <= {result.target:.0f} {result.metric.unit}: {verdict} "
        f"(datamirror's highest: {max(values):.0f} {result.metric.unit})."
    )


def _summary(results: list[WorkloadResult]) -> list[str]:
    lines = [
        "| workload | datamirror | CPU s | best peer setting | best peer | CPU s | ratio |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in results:
        ours, best = r.datamirror, r.best_peer
        ratio = r.ratio
        mark = "-" if ratio is None else f"{ratio:.2f}x"
        if r.target is not None:
            mark = _target_line(r)
        if ours and ours.ok:
            ours_text = _with_spread(ours.median, ours.spread)
        else:
            ours_text = _status(ours)[:80] if ours else "-"
        best_name = _cell(best.name) if best else "-"
        best_text = _with_spread(best.median, best.spread) if best else "-"
        lines.append(
            f"| {r.key} | {_cell(ours_text)} | {_cpu(ours)} | {best_name} | "
            f"{best_text} | {_cpu(best)} | {mark} |"
        )
    return lines


def markdown(doc: dict[str, Any], results: list[WorkloadResult], png: str | None) -> str:
    machine, limits = doc["machine"], doc["limits"]
    lines = [
        f"# datamirror benchmarks, {doc['date']} ({doc['mode']})",
        "",
        f"Command: `{doc['command']}`",
        "",
        RATIO_NOTE.format(runs=doc["runs"]),
        "",
        "## Summary",
        "",
        *_summary(results),
        "",
    ]
    if png:
        lines += [f"![ratios]({png})", ""]
    lines += [
        "## Machine",
        "",
        "| | |",
        "|---|---|",
        f"| CPU | {machine['cpu']} |",
        f"| cores | {machine['cores']} |",
        f"| memory | {machine['memory_mib']} MiB |",
        f"| kernel | {machine['kernel']} |",
        f"| OS | {machine['os']} |",
        f"| Python | {machine['python']} |",
        f"| datamirror | {machine['datamirror_revision']} |",
        "",
        "## Tool versions",
        "",
        "| tool | version |",
        "|---|---|",
        *(f"| {k} | {v[:90]} |" for k, v in doc["versions"].items()),
        "",
        "## Physical limits (same run)",
        "",
        "| limit | MiB/s |",
        "|---|---|",
        *(f"| {LIMIT_NAMES.get(k, k)} | {v:,.0f} |" for k, v in limits.items()),
        "",
        "## Workloads",
        "",
    ]
    for result in results:
        lines += _workload_section(result, limits)
    if doc["failures"]:
        lines += ["## Failures", "", *(f"- {f}" for f in doc["failures"]), ""]
    return "\n".join(lines)


def chart(path: Path, results: list[WorkloadResult], title: str) -> bool:
    """A bar per workload with a ratio; False when matplotlib is missing or nothing to draw."""
    rows = [(r.key, r.ratio) for r in results if r.ratio is not None]
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    if not rows:
        return False
    fig, axis = plt.subplots(figsize=(8, 0.5 * len(rows) + 1.5))
    labels = [k for k, _ in rows]
    values = [v for _, v in rows if v is not None]
    colours = ["tab:green" if v >= 1 else "tab:red" for v in values]
    axis.barh(labels, values, color=colours)
    axis.axvline(1.0, color="black", linewidth=1)
    axis.invert_yaxis()
    axis.set_xlim(0, max(1.0, *values) * 1.2)
    axis.set_title(title)
    axis.set_xlabel("datamirror vs best peer setting (>1: datamirror better)")
    for y, value in enumerate(values):
        axis.text(value, y, f" {value:.2f}x", va="center")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


README_BEGIN = "<!-- benchmarks:begin (written by python -m benchmarks.run --readme) -->"
README_END = "<!-- benchmarks:end -->"
RESULTS = "benchmarks/results"


def readme_section(doc: dict[str, Any], results: list[WorkloadResult], stem: str) -> str:
    """The README's results block: the summary table, the machine, where the rest is."""
    machine = doc["machine"]
    return "\n".join(
        [
            README_BEGIN,
            f"Measured {doc['date'][:10]} with `{doc['command']}` on {machine['cpu']}, "
            f"{machine['cores']} cores, {machine['memory_mib']} MiB, Python {machine['python']}, "
            f"datamirror {machine['datamirror_revision']}. " + RATIO_NOTE.format(runs=doc["runs"]),
            "",
            *_summary(results),
            "",
            f"Every figure, tool version and limit: [results/{stem}.md]({RESULTS}/{stem}.md).",
            README_END,
        ]
    )


def update_readme(readme: Path, section: str) -> None:
    """Replace the block between the markers (which must exist) with `section`."""
    text = readme.read_text()
    start, end = text.find(README_BEGIN), text.find(README_END)
    if start < 0 or end < start:
        raise SystemExit(f"{readme} has no benchmark markers; add {README_BEGIN!r}")
    readme.write_text(text[:start] + section + text[end + len(README_END) :])
