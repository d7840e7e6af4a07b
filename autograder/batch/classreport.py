"""The class report: one self-contained HTML page (plots embedded as base64 PNG, no network)
and the same plots as PNG files, built from the batch's results log.

Plots: score histogram, per-part pass rate (share of submissions with full marks on the part),
how many submissions show each diagnosis code, and the slowest submissions.
"""
from __future__ import annotations

import base64
import html
import io
import statistics
from collections import Counter
from pathlib import Path

from ..fsutil import atomic_write
from .gradebook import DONE, is_failure
from ..safetext import name as one_line

REPORT_DIR = "report"
SLOWEST = 15


def _figure(width: float = 7.0, height: float = 3.6):
    import matplotlib

    matplotlib.use("Agg", force=True)
    from matplotlib.figure import Figure  # no pyplot: no global state, thread-safe enough

    fig = Figure(figsize=(width, height), dpi=110)
    return fig, fig.add_subplot(1, 1, 1)


def _png(fig) -> bytes:
    buf = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buf, format="png")
    return buf.getvalue()


def _integer_ticks(axis) -> None:
    from matplotlib.ticker import MaxNLocator

    axis.set_major_locator(MaxNLocator(integer=True))


def _empty(ax, text: str) -> None:
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes, color="0.4")
    ax.set_xticks([])
    ax.set_yticks([])


def score_histogram(records: list[dict], max_score: float) -> bytes:
    fig, ax = _figure()
    scores = [r.get("score", 0.0) for r in records]
    if scores:
        bins = min(40, max(10, int(max_score) + 1)) if max_score > 0 else 10
        ax.hist(scores, bins=bins, range=(0, max_score or max(scores) or 1), color="#4c72b0", edgecolor="white")
        mean = statistics.fmean(scores)
        ax.axvline(mean, color="#c44e52", linestyle="--", linewidth=1.5, label=f"mean {mean:.2f}")
        ax.legend(loc="upper left")
    else:
        _empty(ax, "no graded submissions")
    ax.set_xlabel(f"total score (out of {max_score:g})")
    ax.set_ylabel("submissions")
    _integer_ticks(ax.yaxis)
    ax.set_title(f"Score distribution ({len(scores)} submissions)")
    return _png(fig)


def part_pass_rates(records: list[dict], parts: list[tuple[str, float]]) -> dict[str, float]:
    rates = {}
    for name, points in parts:
        got = [r.get("parts", {}).get(name) for r in records]
        got = [g for g in got if g is not None]
        rates[name] = (sum(g >= points - 1e-9 for g in got) / len(got)) if got else 0.0
    return rates


def pass_rate_plot(records: list[dict], parts: list[tuple[str, float]]) -> bytes:
    rates = part_pass_rates(records, parts)
    fig, ax = _figure(7.0, 0.8 + 0.32 * max(1, len(rates)))
    names = list(rates)[::-1]
    values = [100 * rates[n] for n in names]
    bars = ax.barh(names, values, color="#55a868")
    for bar, v in zip(bars, values):
        ax.text(min(v + 1, 92), bar.get_y() + bar.get_height() / 2, f"{v:.0f}%", va="center", fontsize=8)
    ax.set_xlim(0, 100)
    ax.set_xlabel("submissions with full marks on the part (%)")
    ax.set_title("Pass rate per part")
    ax.tick_params(axis="y", labelsize=8)
    return _png(fig)


def diagnosis_counts(records: list[dict]) -> Counter:
    return Counter(code for r in records for code in set(r.get("diagnoses", [])))


def diagnosis_plot(records: list[dict]) -> bytes:
    counts = diagnosis_counts(records).most_common(20)
    fig, ax = _figure(7.0, 0.8 + 0.3 * max(3, len(counts)))
    if counts:
        names = [c for c, _ in counts][::-1]
        values = [n for _, n in counts][::-1]
        ax.barh(names, values, color="#dd8452")
        for y, v in enumerate(values):
            ax.text(v, y, f" {v}", va="center", fontsize=8)
        ax.set_xlabel("submissions showing the diagnosis")
        _integer_ticks(ax.xaxis)
    else:
        _empty(ax, "no diagnoses: every submission passed every case")
    ax.set_title("Diagnosis codes")
    ax.tick_params(axis="y", labelsize=8)
    return _png(fig)


def slowest_plot(records: list[dict], n: int = SLOWEST) -> bytes:
    slow = sorted(records, key=lambda r: r.get("seconds", 0.0), reverse=True)[:n]
    fig, ax = _figure(7.0, 0.8 + 0.3 * max(3, len(slow)))
    if slow:
        names = [one_line(r["id"])[:32] for r in slow][::-1]
        values = [r.get("seconds", 0.0) for r in slow][::-1]
        colors = ["#c44e52" if is_failure(r) else "#8172b3" for r in slow][::-1]
        ax.barh(names, values, color=colors)
        ax.set_xlabel("grading wall time (s); red: crashed, timed out or failed to load")
    else:
        _empty(ax, "no graded submissions")
    ax.set_title(f"Slowest {len(slow)} submissions")
    ax.tick_params(axis="y", labelsize=8)
    return _png(fig)


def build(records: list[dict], *, title: str, parts: list[tuple[str, float]], max_score: float,
          stats: dict | None = None) -> tuple[str, dict[str, bytes]]:
    """(html, {png file name: bytes}) for ``records`` (one current record per submission)."""
    done = [r for r in records if r.get("status") == DONE]
    pngs = {
        "score_histogram.png": score_histogram(done, max_score),
        "part_pass_rate.png": pass_rate_plot(done, parts),
        "diagnoses.png": diagnosis_plot(done),
        "slowest.png": slowest_plot(records),
    }
    scores = [r.get("score", 0.0) for r in done]
    failures = [r for r in records if is_failure(r)]
    summary = [
        ("submissions", str(len(records))),
        ("students", str(sum(len(r.get("students") or [None]) for r in records))),
        ("mean score", f"{statistics.fmean(scores):.2f} / {max_score:g}" if scores else "-"),
        ("median score", f"{statistics.median(scores):.2f}" if scores else "-"),
        ("full marks", str(sum(s >= max_score - 1e-9 for s in scores))),
        ("crashed / timed out / unloadable", str(len(failures))),
    ]
    for key, value in (stats or {}).items():
        summary.append((key, str(value)))
    def esc(text) -> str:  # student-chosen text (ids, names, reasons): controls shown, then HTML-escaped
        return html.escape(one_line(text))
    rows = "".join(f"<tr><th>{esc(k)}</th><td>{esc(v)}</td></tr>" for k, v in summary)
    imgs = "".join(
        f'<figure><img alt="{esc(name)}" src="data:image/png;base64,{base64.b64encode(data).decode()}">'
        f"<figcaption>{esc(name)}</figcaption></figure>"
        for name, data in pngs.items()
    )
    rates = part_pass_rates(done, parts)
    part_rows = "".join(
        f"<tr><td>{esc(name)}</td><td>{points:g}</td><td>{100 * rates[name]:.0f}%</td></tr>" for name, points in parts
    )
    fail_rows = "".join(
        f"<tr><td>{esc(r['id'])}</td><td>{esc(' '.join(r.get('diagnoses', [])) or r.get('status', ''))}</td>"
        f"<td>{r.get('seconds', 0.0):.2f}</td></tr>"
        for r in sorted(failures, key=lambda r: r["id"])[:200]
    )
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{esc(title)}: class report</title>
<style>
body{{font-family:system-ui,sans-serif;max-width:980px;margin:2em auto;padding:0 1em;color:#222}}
table{{border-collapse:collapse;margin:1em 0}}th,td{{padding:.25em .8em;border-bottom:1px solid #ddd;text-align:left}}
figure{{margin:1.5em 0}}img{{max-width:100%}}figcaption{{color:#666;font-size:.85em}}
</style></head><body>
<h1>{esc(title)}: class report</h1>
<table>{rows}</table>
{imgs}
<h2>Parts</h2><table><tr><th>part</th><th>points</th><th>full marks</th></tr>{part_rows}</table>
<h2>Submissions that crashed, timed out or did not load ({len(failures)})</h2>
<table><tr><th>submission</th><th>diagnoses</th><th>seconds</th></tr>{fail_rows}</table>
</body></html>
"""
    return page, pngs


def write(out: Path, records: list[dict], **kwargs) -> Path:
    page, pngs = build(records, **kwargs)
    folder = Path(out) / REPORT_DIR
    for name, data in pngs.items():
        atomic_write(folder / name, data)
    atomic_write(folder / "index.html", page)
    return folder / "index.html"
