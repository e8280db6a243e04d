"""Weak-to-strong results: accuracies and PGR per label source, with bootstrap intervals.

PGR = (transfer - weak) / (ceiling - weak) (Burns et al. 2023). The intervals resample test
questions: one resample draws the same questions for the weak supervisor, every transfer seed
and every ceiling seed, so the paired structure of the comparison is kept. PGR is undefined
(NaN, shown "n/a") where the ceiling does not beat the weak supervisor.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
from rich.table import Table

from oversight.metrics import pgr


@dataclass(frozen=True)
class PGRRow:
    """One label source: how good its labels were and how much of the gap they recovered."""

    source: str
    questions: int
    """Test questions evaluated."""
    seeds: int
    weak: float
    """Weak supervisor's test accuracy."""
    weak_ci: tuple[float, float]
    transfer: float
    """Strong student trained on this source's labels, mean over seeds."""
    transfer_ci: tuple[float, float]
    ceiling: float
    """Strong student trained on ground truth of the labelling split, mean over seeds."""
    ceiling_ci: tuple[float, float]
    pgr: float
    pgr_ci: tuple[float, float]
    pgr_by_seed: list[float] = field(default_factory=list)
    label_accuracy: float = math.nan
    """Accuracy of the labels themselves on the labelling split (evaluation only)."""
    labels: int = 0
    """Labels the student trained on (after any confidence filter)."""
    label_confidence: float = math.nan
    """Mean confidence (probability of the hard label) of those labels: near 0.5, soft
    labels carry almost no signal for a student trained on them."""

    def as_json(self) -> dict[str, Any]:
        return _nan_to_none(asdict(self))


def _nan_to_none(x: Any) -> Any:
    if isinstance(x, float) and math.isnan(x):
        return None
    if isinstance(x, dict):
        return {k: _nan_to_none(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [_nan_to_none(v) for v in x]
    return x


def _ci(samples: np.ndarray, level: float = 0.95) -> tuple[float, float]:
    finite = samples[np.isfinite(samples)]
    if finite.size < max(10, samples.size // 2):
        return (math.nan, math.nan)  # undefined in most resamples: no meaningful interval
    alpha = (1 - level) / 2
    lo, hi = np.quantile(finite, [alpha, 1 - alpha])
    return (float(lo), float(hi))


def pgr_row(
    source: str,
    weak_correct: Sequence[float],
    transfer_correct: Sequence[Sequence[float]],
    ceiling_correct: Sequence[Sequence[float]],
    *,
    n_resamples: int = 2000,
    seed: int = 0,
    label_accuracy: float = math.nan,
    labels: int = 0,
    label_confidence: float = math.nan,
) -> PGRRow:
    """Accuracies, PGR and paired bootstrap intervals from per-question correctness.

    ``weak_correct`` is ``[questions]``; ``transfer_correct`` and ``ceiling_correct`` are
    ``[seeds, questions]`` over the same test questions in the same order.
    """
    weak = np.asarray(weak_correct, dtype=float)
    transfer = np.asarray(transfer_correct, dtype=float).reshape(-1, weak.size)
    ceiling = np.asarray(ceiling_correct, dtype=float).reshape(-1, weak.size)
    if transfer.shape[0] != ceiling.shape[0]:
        raise ValueError("transfer and ceiling need the same seeds")
    w, t, c = float(weak.mean()), float(transfer.mean()), float(ceiling.mean())
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, weak.size, size=(n_resamples, weak.size))
    wb = weak[idx].mean(axis=1)
    tb = transfer[:, idx].mean(axis=(0, 2))
    cb = ceiling[:, idx].mean(axis=(0, 2))
    gap = cb - wb
    with np.errstate(divide="ignore", invalid="ignore"):
        pb = np.where(gap > 0, (tb - wb) / np.where(gap > 0, gap, 1.0), np.nan)
    point = pgr(w, t, c)
    return PGRRow(
        source=source,
        questions=int(weak.size),
        seeds=int(transfer.shape[0]),
        weak=w,
        weak_ci=_ci(wb),
        transfer=t,
        transfer_ci=_ci(tb),
        ceiling=c,
        ceiling_ci=_ci(cb),
        pgr=point,
        pgr_ci=_ci(pb) if not math.isnan(point) else (math.nan, math.nan),
        pgr_by_seed=[
            pgr(w, float(transfer[s].mean()), float(ceiling[s].mean()))
            for s in range(transfer.shape[0])
        ],
        label_accuracy=label_accuracy,
        labels=labels,
        label_confidence=label_confidence,
    )


def _pct(x: float) -> str:
    return "n/a" if math.isnan(x) else f"{100 * x:.1f}"


def _with_ci(x: float, ci: tuple[float, float]) -> str:
    if math.isnan(x):
        return "n/a"
    if math.isnan(ci[0]):
        return _pct(x)
    return f"{_pct(x)} [{100 * ci[0]:.0f}, {100 * ci[1]:.0f}]"


def pgr_table(rows: Sequence[PGRRow], title: str) -> Table:
    """The rich table the ``pipeline`` command prints: one column per label source, so the
    sources sit side by side and the table fits an 80-column terminal."""
    table = Table(title=title)
    table.add_column("", no_wrap=True)
    for r in rows:
        table.add_column(r.source, justify="right")
    lines: list[tuple[str, Callable[[PGRRow], str]]] = [
        ("labels (B)", lambda r: str(r.labels)),
        ("label acc (B)", lambda r: _pct(r.label_accuracy)),
        ("label conf (B)", lambda r: _pct(r.label_confidence)),
        ("weak acc", lambda r: _with_ci(r.weak, r.weak_ci)),
        ("transfer acc", lambda r: _with_ci(r.transfer, r.transfer_ci)),
        ("ceiling acc", lambda r: _with_ci(r.ceiling, r.ceiling_ci)),
        ("PGR", lambda r: _with_ci(r.pgr, r.pgr_ci)),
        ("PGR per seed", lambda r: ", ".join(_pct(p) for p in r.pgr_by_seed)),
    ]
    for name, cell in lines:
        table.add_row(name, *(cell(r) for r in rows))
    table.caption = (
        f"% on {rows[0].questions if rows else 0} test questions (labels: split B), mean of "
        f"{rows[0].seeds if rows else 0} student seeds, 95% paired bootstrap CIs; PGR n/a "
        "where the ceiling does not beat the weak supervisor"
    )
    return table
