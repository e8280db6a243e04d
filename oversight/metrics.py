"""Metrics: accuracy, bootstrap confidence intervals, calibration, AUROC, PGR.

Pure functions over numpy arrays so they are easy to test and reuse in reports.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Literal, TypeAlias, get_args

import numpy as np
import numpy.typing as npt

Floats: TypeAlias = Sequence[float] | npt.NDArray[np.floating]


TieRule = Literal["incorrect", "half"]
"""How a verdict with P(correct) exactly 0.5 counts: ``incorrect`` (Michael et al. 2023: a
judge is correct when P(correct) > 0.5) or ``half`` (half correct)."""
TIE_RULES: tuple[str, ...] = get_args(TieRule)


def accuracy(correct: Floats) -> float:
    """Mean of per-item correctness (1, 0, or 0.5 for a tie under the ``half`` rule)."""
    arr = np.asarray(correct, dtype=float)
    return float(arr.mean()) if arr.size else math.nan


def is_tie(p_correct: Floats) -> np.ndarray:
    """Exactly 0.5 on the correct answer of a binary question: no tolerance, so 0.5 + 5e-6
    is a (barely) correct verdict and only an exactly split judge is tied."""
    return np.asarray(p_correct, dtype=float) == 0.5


def correctness(p_correct: Floats, ties: TieRule = "incorrect") -> np.ndarray:
    """1 where the probability on the correct answer is above 0.5, else 0; a tie (exactly
    0.5, :func:`is_tie`) is 0 under the default rule and 0.5 under ``half``."""
    if ties not in TIE_RULES:
        raise ValueError(f"unknown tie rule {ties!r} (known: {', '.join(TIE_RULES)})")
    p = np.asarray(p_correct, dtype=float)
    tie_value = 0.5 if ties == "half" else 0.0
    return np.where(is_tie(p), tie_value, (p > 0.5).astype(float))


def bootstrap_ci(
    values: Floats,
    groups: Sequence[str] | None = None,
    *,
    n_resamples: int = 2000,
    level: float = 0.95,
    seed: int = 0,
) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean.

    With ``groups`` (e.g. question ids), whole groups are resampled: the several debates of
    one question are not independent, so resampling them one by one would be too narrow.
    """
    vals = np.asarray(values, dtype=float)
    if vals.size == 0:
        return (math.nan, math.nan)
    rng = np.random.default_rng(seed)
    if groups is None:
        idx = rng.integers(0, vals.size, size=(n_resamples, vals.size))
        means = vals[idx].mean(axis=1)
    else:
        keys = sorted(set(groups))
        pos = {k: i for i, k in enumerate(keys)}
        g = np.array([pos[k] for k in groups])
        sums = np.bincount(g, weights=vals, minlength=len(keys))
        counts = np.bincount(g, minlength=len(keys)).astype(float)
        pick = rng.integers(0, len(keys), size=(n_resamples, len(keys)))
        means = sums[pick].sum(axis=1) / counts[pick].sum(axis=1)
    alpha = (1 - level) / 2
    lo, hi = np.quantile(means, [alpha, 1 - alpha])
    return (float(lo), float(hi))


def expected_calibration_error(
    confidence: Sequence[float], correct: Sequence[float], n_bins: int = 10
) -> float:
    """ECE: bin by confidence, weight |accuracy - confidence| by bin size."""
    conf = np.asarray(confidence, dtype=float)
    corr = np.asarray(correct, dtype=float)
    if conf.size == 0:
        return math.nan
    bins = np.minimum((conf * n_bins).astype(int), n_bins - 1)
    total = 0.0
    for b in range(n_bins):
        mask = bins == b
        if mask.any():
            total += mask.mean() * abs(corr[mask].mean() - conf[mask].mean())
    return float(total)


def auroc(scores: Sequence[float], labels: Sequence[int]) -> float:
    """Area under the ROC curve via the rank statistic (ties count half)."""
    s = np.asarray(scores, dtype=float)
    y = np.asarray(labels, dtype=int)
    pos, neg = s[y == 1], s[y == 0]
    if pos.size == 0 or neg.size == 0:
        return math.nan
    greater = (pos[:, None] > neg[None, :]).sum()
    ties = (pos[:, None] == neg[None, :]).sum()
    return float((greater + 0.5 * ties) / (pos.size * neg.size))


def pgr(weak: float, transfer: float, ceiling: float) -> float:
    """Performance gap recovered, (transfer - weak) / (ceiling - weak); NaN when undefined.

    Undefined (NaN) where the ceiling does not exceed the weak supervisor: there is no gap.
    """
    gap = ceiling - weak
    if not gap > 0:
        return math.nan
    return (transfer - weak) / gap


def brier_score(probabilities: Floats, outcomes: Floats) -> float:
    """Mean squared error of forecast probabilities against what happened (1 or 0), Brier 1950.

    Unlike accuracy it rewards being sure when right and punishes being sure when wrong. For a
    verdict on a two-answer question, the probability on the correct answer against an
    outcome of 1 gives the usual binary Brier score (whichever answer is taken as the event).
    """
    p = np.asarray(probabilities, dtype=float)
    y = np.asarray(outcomes, dtype=float)
    if p.shape != y.shape:
        raise ValueError(f"{p.size} probabilities for {y.size} outcomes")
    return float(np.mean((p - y) ** 2)) if p.size else math.nan


def reliability_bins(
    confidence: Floats, correct: Floats, n_bins: int = 10
) -> list[tuple[int, int, float, float]]:
    """The bins of :func:`expected_calibration_error`, for a reliability diagram.

    One ``(bin, count, mean confidence, accuracy)`` per non-empty bin; bin ``b`` holds
    confidences in ``[b / n_bins, (b + 1) / n_bins)``, the last one also 1.0.
    """
    conf = np.asarray(confidence, dtype=float)
    corr = np.asarray(correct, dtype=float)
    bins = np.minimum((conf * n_bins).astype(int), n_bins - 1)
    return [
        (b, int(mask.sum()), float(conf[mask].mean()), float(corr[mask].mean()))
        for b in range(n_bins)
        if (mask := bins == b).any()
    ]
