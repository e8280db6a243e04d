"""The report's figures, as PNG files sized for a paper column.

Drawn with matplotlib's object API on the Agg canvas (no display, and no global pyplot state
to disturb a notebook that imports this). Each function draws numbers computed elsewhere
(accuracy rows, round points, reliability bins, PGR rows), so the numbers are tested there.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from oversight.report.calibration import ReliabilityBin
from oversight.report.rounds import RoundPoint
from oversight.report.w2s import PGRRow

DPI = 150
MIN_ROUND_VERDICTS = 5
"""Points of the round curve with fewer verdicts are not drawn (report.md lists them all)."""
_COLORS = ("#0b5cad", "#d1495b", "#2e933c", "#edae49", "#6c4f9c", "#00798c", "#8d6a9f", "#555555")


def _style(ax: Any) -> None:
    ax.spines[["top", "right"]].set_visible(False)
    ax.grid(axis="y", color="#e3e6ea", linewidth=0.8)
    ax.set_axisbelow(True)


def _figure(width: float = 6.0, height: float = 3.6) -> tuple[Figure, Any]:
    fig = Figure(figsize=(width, height), dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    _style(ax)
    return fig, ax


def _save(fig: Figure, path: Path) -> Path:
    fig.savefig(path, format="png", dpi=DPI, metadata={"Software": None})
    return path


def _pct(x: float) -> float:
    return 100 * x if x is not None and not math.isnan(x) else math.nan


def accuracy_by_protocol(rows: Sequence[dict[str, Any]], path: Path, title: str) -> Path:
    """Grouped bars: one group of bars per protocol, one bar per judge group, 95% CI bars."""
    groups = [r for r in rows if r.get("is_group")]
    protocols = sorted({r["protocol"] for r in groups})
    labels = list(dict.fromkeys(r["judge"] for r in groups))
    fig, ax = _figure(max(6.0, 1.2 + 1.1 * len(protocols) * max(1, len(labels)) / 2), 3.6)
    width = 0.8 / max(1, len(labels))
    for k, label in enumerate(labels):
        xs, ys, err_lo, err_hi, counts = [], [], [], [], []
        for i, p in enumerate(protocols):
            r = next((r for r in groups if r["protocol"] == p and r["judge"] == label), None)
            if r is None:
                continue
            acc = _pct(r["accuracy"])
            xs.append(i - 0.4 + width * (k + 0.5))
            counts.append(r["verdicts"])
            ys.append(acc)
            err_lo.append(max(0.0, acc - _pct(r["ci_low"])))
            err_hi.append(max(0.0, _pct(r["ci_high"]) - acc))
        ax.bar(xs, ys, width * 0.92, label=label, color=_COLORS[k % len(_COLORS)])
        for x, r in zip(xs, counts, strict=True):
            ax.annotate(f"n={r}", (x, 1), ha="center", va="bottom", fontsize=7, color="white")
        ax.errorbar(xs, ys, yerr=[err_lo, err_hi], fmt="none", ecolor="#222222", capsize=3, lw=1)
    ax.axhline(50, color="#888888", lw=0.8, ls="--")
    ax.set_xticks(range(len(protocols)), protocols)
    ax.set_ylim(0, 105)
    ax.set_ylabel("judge accuracy (%)")
    ax.set_title(title, fontsize=10)
    if labels:
        ax.legend(fontsize=8, frameon=False, loc="lower right")
    return _save(fig, path)


def accuracy_by_round(points: Sequence[RoundPoint], path: Path, title: str) -> Path:
    """Mean P(correct) against rounds read: a panel per judge group, a line per protocol,
    95% CI bands. Points with fewer than :data:`MIN_ROUND_VERDICTS` verdicts are not drawn
    (unless no point has that many: then all are); the title says which."""
    least = MIN_ROUND_VERDICTS if any(p.verdicts >= MIN_ROUND_VERDICTS for p in points) else 1
    drawn = [p for p in points if p.verdicts >= least]
    groups = list(dict.fromkeys(p.group for p in drawn)) or ["(no points)"]
    protocols = sorted({p.protocol for p in drawn})
    fig = Figure(figsize=(3.4 * len(groups) + 0.6, 3.4), dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, len(groups), sharey=True, squeeze=False)[0]
    for ax, group in zip(axes, groups, strict=True):
        _style(ax)
        for protocol in protocols:
            mine = [p for p in drawn if (p.protocol, p.group) == (protocol, group)]
            if not mine:
                continue
            color = _COLORS[protocols.index(protocol) % len(_COLORS)]
            xs = [p.rounds_read for p in mine]
            ax.plot(
                xs, [_pct(p.p_correct) for p in mine], "-o", ms=3.5, color=color, label=protocol
            )
            ax.fill_between(
                xs,
                [_pct(p.ci_low) for p in mine],
                [_pct(p.ci_high) for p in mine],
                color=color,
                alpha=0.15,
                lw=0,
            )
        ax.axhline(50, color="#888888", lw=0.8, ls="--")
        ax.set_title(group, fontsize=9)
        ax.set_xlabel("speech rounds read")
        ax.set_ylim(0, 100)
        ax.xaxis.get_major_locator().set_params(integer=True)
        ax.legend(fontsize=8, frameon=False, loc="lower left")
    axes[0].set_ylabel("mean P(correct answer) (%)")
    fig.suptitle(f"{title} (points with n \u2265 {least})", fontsize=10)
    return _save(fig, path)


def reliability_diagram(bins: Sequence[ReliabilityBin], path: Path, title: str) -> Path:
    """Accuracy against mean confidence per bin, one line per group; marker area ~ count."""
    fig, ax = _figure(4.6, 4.2)
    # A favoured answer of two has at least half the probability: show that half only.
    low = 50.0 if all(b.low >= 0.5 for b in bins) else 0.0
    ax.plot([low, 100], [low, 100], color="#888888", lw=0.8, ls="--", label="perfectly calibrated")
    groups = list(dict.fromkeys(b.group for b in bins))
    most = max((b.verdicts for b in bins), default=1)
    for k, group in enumerate(groups):
        mine = [b for b in bins if b.group == group]
        color = _COLORS[k % len(_COLORS)]
        xs = [_pct(b.confidence) for b in mine]
        ys = [_pct(b.accuracy) for b in mine]
        ax.plot(xs, ys, "-", color=color, lw=1.2, label=group)
        ax.scatter(xs, ys, s=[12 + 90 * b.verdicts / most for b in mine], color=color, zorder=3)
    ax.set_xlim(low - 2, 102)
    ax.set_ylim(-3, 103)
    ax.set_xlabel("confidence: P(favoured answer) (%)")
    ax.set_ylabel("accuracy in bin (%)")
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8, frameon=False, loc="lower right")
    return _save(fig, path)


def pgr_by_source(rows: Sequence[PGRRow], path: Path, title: str) -> Path:
    """PGR per label source with its 95% paired bootstrap interval (n/a sources are noted)."""
    fig, ax = _figure()
    names = [r.source for r in rows]
    ys = [_pct(r.pgr) for r in rows]
    lo = [
        0.0 if math.isnan(r.pgr_ci[0]) else max(0.0, y - _pct(r.pgr_ci[0]))
        for r, y in zip(rows, ys, strict=True)
    ]
    hi = [
        0.0 if math.isnan(r.pgr_ci[1]) else max(0.0, _pct(r.pgr_ci[1]) - y)
        for r, y in zip(rows, ys, strict=True)
    ]
    xs = list(range(len(rows)))
    drawn = [0.0 if math.isnan(y) else y for y in ys]
    ax.bar(xs, drawn, 0.6, color=[_COLORS[i % len(_COLORS)] for i in xs])
    ax.errorbar(xs, drawn, yerr=[lo, hi], fmt="none", ecolor="#222222", capsize=3, lw=1)
    for x, y in zip(xs, ys, strict=True):
        if math.isnan(y):
            ax.annotate("n/a", (x, 0), ha="center", va="bottom", fontsize=8)
    ax.axhline(0, color="#444444", lw=0.8)
    ax.axhline(100, color="#888888", lw=0.8, ls="--")
    ax.set_xticks(xs, names, fontsize=8)
    ax.set_ylabel("PGR (%)")
    ax.set_title(title, fontsize=10)
    return _save(fig, path)


def accuracy_vs_rating(rows: Sequence[Any], path: Path, title: str) -> Path:
    """Judge accuracy per matchup against its debaters' rating (Khan et al. 2024's figure):
    filled dots are self-play, open dots mixed matchups at their variants' mean rating;
    vertical bars are 95% intervals and every point is labelled with its matchup and n."""
    fig, ax = _figure(6.0, 3.8)
    for r in rows:
        if math.isnan(r.rating):
            continue
        acc = _pct(r.accuracy)
        own = r.first == r.second
        ax.errorbar(
            [r.rating],
            [acc],
            yerr=[[max(0.0, acc - _pct(r.ci_low))], [max(0.0, _pct(r.ci_high) - acc)]],
            fmt="o",
            color=_COLORS[0] if own else _COLORS[1],
            mfc=_COLORS[0] if own else "white",
            capsize=3,
            lw=1,
        )
        label = r.first if own else f"{r.first} v {r.second}"
        ax.annotate(
            f"{label} (n={r.debates})",
            (r.rating, acc),
            fontsize=7,
            xytext=(4, 4),
            textcoords="offset points",
        )
    ax.axhline(50, color="#888888", lw=0.8, ls="--")
    ax.set_ylim(0, 105)
    ax.set_xlabel("debater rating (Elo; mixed matchups: mean of the two)")
    ax.set_ylabel("judge accuracy (%)")
    ax.set_title(title, fontsize=10)
    return _save(fig, path)
