"""Weak-to-strong results: accuracies and PGR per label source, with bootstrap intervals.

PGR = (transfer - weak) / (ceiling - weak) (Burns et al. 2023). The intervals resample test
questions: one resample draws the same questions for the weak supervisor, every transfer seed
and every ceiling seed, so the paired structure of the comparison is kept. PGR is undefined
(NaN, shown "n/a") where the ceiling does not beat the weak supervisor, in the point estimate
and in a resample alike: the PGR interval is taken over the resamples where it is defined,
and the others are counted and reported (:data:`PGR_INTERVAL_RULE`), since dropping them
silently would hide how often the gap itself was not there.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
from rich.table import Table

from oversight.labels import LABEL_TIE_RULE
from oversight.metrics import pgr

PGR_INTERVAL_RULE = (
    "PGR interval: 2.5-97.5% percentiles of the resamples where the ceiling beats the weak "
    "supervisor; the others have no PGR and are dropped, counted in 'PGR CI drops' (no "
    "interval when over half are)"
)
"""How the PGR interval treats resamples with no gap, as the table states it."""
VERDICT_TIE_RULE = "a test prediction with exactly 0.5 on the correct answer counts as wrong"


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
    pgr_resamples: int = 0
    """Bootstrap resamples drawn."""
    pgr_dropped: int = 0
    """Resamples where the ceiling did not beat the weak supervisor: no PGR, so left out of
    ``pgr_ci`` (see :data:`PGR_INTERVAL_RULE`)."""
    label_accuracy: float = math.nan
    """Accuracy of the labels themselves on the labelling split (evaluation only)."""
    labels: int = 0
    """Labels the student trained on (after any confidence filter)."""
    label_confidence: float = math.nan
    """Mean confidence (probability of the hard label) of those labels: near 0.5, soft
    labels carry almost no signal for a student trained on them."""
    label_ties: int = 0
    """Of those labels, how many were exactly tied (hard label by the coin)."""
    validation: int = 0
    """Validation questions (carved from split B; never trained on)."""
    transfer_val: float = math.nan
    """Students' agreement with this source's weak labels on validation, mean over seeds:
    the score a weak-to-strong practitioner can select on, having no answer key."""
    ceiling_val: float = math.nan
    """Ceiling accuracy against the answer key on validation (the ceiling sees B's key)."""

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
    label_ties: int = 0,
    validation: int = 0,
    transfer_val: float = math.nan,
    ceiling_val: float = math.nan,
) -> PGRRow:
    """Accuracies, PGR and paired bootstrap intervals from per-question correctness.

    ``weak_correct`` is ``[questions]``; ``transfer_correct`` and ``ceiling_correct`` are
    ``[seeds, questions]`` over the same test questions in the same order. The label and
    validation figures are passed through to the row.
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
    defined = gap > 0
    pb = np.where(defined, (tb - wb) / np.where(defined, gap, 1.0), np.nan)
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
        pgr_resamples=int(n_resamples),
        pgr_dropped=int(n_resamples - defined.sum()),
        label_accuracy=label_accuracy,
        labels=labels,
        label_confidence=label_confidence,
        label_ties=label_ties,
        validation=validation,
        transfer_val=transfer_val,
        ceiling_val=ceiling_val,
    )


def _pct(x: float) -> str:
    return "n/a" if math.isnan(x) else f"{100 * x:.1f}"


def _with_ci(x: float, ci: tuple[float, float]) -> str:
    if math.isnan(x):
        return "n/a"
    if math.isnan(ci[0]):
        return _pct(x)
    return f"{_pct(x)}\n[{100 * ci[0]:.0f}, {100 * ci[1]:.0f}]"


def pgr_table(rows: Sequence[PGRRow], title: str) -> Table:
    """The rich table the ``pipeline`` command prints: one column per label source, so the
    sources sit side by side. Intervals and seeds go on lines of their own, which keeps every
    cell narrower than the sources' names: the table fits an 80-column terminal without
    wrapping a name, whatever the numbers."""
    table = Table(title=title)
    table.add_column("", no_wrap=True)
    for r in rows:
        table.add_column(r.source, justify="right")
    lines: list[tuple[str, Callable[[PGRRow], str]]] = [
        ("labels (B)", lambda r: str(r.labels)),
        ("label ties (B)", lambda r: str(r.label_ties)),
        ("label acc (B)", lambda r: _pct(r.label_accuracy)),
        ("label conf (B)", lambda r: _pct(r.label_confidence)),
        ("transfer val", lambda r: _pct(r.transfer_val)),
        ("ceiling val", lambda r: _pct(r.ceiling_val)),
        ("weak acc", lambda r: _with_ci(r.weak, r.weak_ci)),
        ("transfer acc", lambda r: _with_ci(r.transfer, r.transfer_ci)),
        ("ceiling acc", lambda r: _with_ci(r.ceiling, r.ceiling_ci)),
        ("PGR", lambda r: _with_ci(r.pgr, r.pgr_ci)),
        ("PGR CI drops", lambda r: f"{r.pgr_dropped} / {r.pgr_resamples}"),
        ("PGR per seed", lambda r: "\n".join(_pct(p) for p in r.pgr_by_seed)),
    ]
    for name, cell in lines:
        table.add_row(name, *(cell(r) for r in rows))
    table.caption = caption(rows)
    if any(r.source.startswith("control:") for r in rows):
        from oversight.controls import FLIP_RULE

        table.caption += f" Controls are not supervisors: {FLIP_RULE}."
    return table


def caption(rows: Sequence[PGRRow]) -> str:
    """What the table's numbers are and every rule behind them, printed under the table."""
    if not rows:
        return "no label source was evaluated"
    first = rows[0]
    return (
        f"% on {first.questions} test questions, mean of {first.seeds} student seeds, 95% "
        f"paired bootstrap CIs ({first.pgr_resamples} resamples of the test questions). "
        f"Labels: split B less its {first.validation} validation questions, on which "
        "'transfer val' is the students' agreement with their weak labels and 'ceiling val' "
        "the ceiling's accuracy; test is never used to choose anything. PGR n/a where the "
        f"ceiling does not beat the weak supervisor. {PGR_INTERVAL_RULE}. "
        f"{LABEL_TIE_RULE}; {VERDICT_TIE_RULE}."
    )


def curve_points(losses: Sequence[float], points: int = 5) -> list[float]:
    """``points`` evenly spaced values of a loss curve, first and last included."""
    if len(losses) <= points:
        return list(losses)
    idx = np.linspace(0, len(losses) - 1, points).round().astype(int)
    return [float(losses[i]) for i in idx]


def members_table(members: Mapping[str, Sequence[Mapping[str, Any]]]) -> Table:
    """Each weak member's training: final-epoch loss against the prior's, whether it fitted
    (:data:`oversight.train.fit.FIT_RULE`) and its loss curve, so a member that learned
    nothing is seen, not averaged into labels."""
    from oversight.train.fit import FIT_RULE

    table = Table(title="weak members: training loss against the prior")
    for col in ("ensemble", "member", "final-epoch loss", "prior loss", "fit", "loss per step"):
        table.add_column(col, justify="left" if col in ("ensemble", "loss per step") else "right")

    def num(x: Any) -> str:
        return "n/a" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.4f}"

    for variant, rows in members.items():
        for m in rows:
            fit = m.get("fit")
            steps = list(m.get("step_losses", []))
            curve = " ".join(f"{x:.3f}" for x in curve_points(steps))
            table.add_row(
                f"weak-{variant}",
                str(m["member"]),
                num(m.get("final_loss")),
                num(m.get("prior_entropy")),
                "not measured" if fit is None else ("yes" if fit else "UNFIT, excluded"),
                f"{curve} ({len(steps)} steps)" if steps else "n/a",
            )
    table.caption = f"{FIT_RULE}; the loss per step is shown at 5 evenly spaced steps"
    return table
