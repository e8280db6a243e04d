"""Did a classifier learn anything? Its training loss against the loss of the prior.

A classifier that predicts the training labels' mean for every input has cross-entropy
equal to the entropy of that mean (ln 2 for balanced binary labels, as every
``ground_truth_examples`` set is): that is the loss of having learned nothing. A weak judge
whose loss stays there gives near-uniform verdicts, and averaging it into an ensemble only
dilutes the members that did learn, so the pipeline leaves it out and reports it.

The rule (:data:`FIT_RULE`): a run is *unfit* when its final-epoch mean training loss (the
mean over the last ``ceil(examples / batch_size)`` micro-batch losses, i.e. one epoch's worth,
or all of them when training was shorter) is at least ``prior entropy - tolerance``. A loss
above the prior (a diverged run) is unfit too. The loss is the run's training loss, so the
rule is exact for ``xent``; for ``logconf`` and ``product`` it compares a different loss
with the same prior.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

FIT_RULE = (
    "unfit: final-epoch mean training loss >= entropy of the training labels' mean - "
    "tolerance (ln 2 for balanced binary labels)"
)
"""The rule as reports state it."""


def label_entropy(targets: Sequence[Sequence[float]]) -> float:
    """Entropy (nats) of the mean of soft targets ``[P(class 0), P(class 1)]``: the training
    loss of a classifier that predicts the labels' prior for every input."""
    if not targets:
        raise ValueError("label_entropy needs at least one target")
    p = sum(float(t[1]) for t in targets) / len(targets)
    return -sum(x * math.log(x) for x in (p, 1.0 - p) if x > 0.0)


def final_epoch_loss(losses: Sequence[float], examples: int, batch_size: int) -> float:
    """Mean of the last epoch's micro-batch losses (``ceil(examples / batch_size)`` of them)."""
    if not losses:
        return math.nan
    per_epoch = max(1, math.ceil(examples / batch_size))
    tail = losses[-per_epoch:]
    return sum(tail) / len(tail)


@dataclass(frozen=True)
class FitCheck:
    """One run's verdict under :data:`FIT_RULE`."""

    final_loss: float
    prior_entropy: float
    tolerance: float
    fit: bool

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


def check_fit(final_loss: float, prior_entropy: float, tolerance: float) -> FitCheck:
    """Apply :data:`FIT_RULE`; a NaN loss (no step ran) is unfit."""
    if tolerance < 0:
        raise ValueError(f"tolerance must be >= 0, got {tolerance}")
    fit = not math.isnan(final_loss) and final_loss < prior_entropy - tolerance
    return FitCheck(final_loss, prior_entropy, tolerance, fit)


def step_losses(micro: Sequence[tuple[int, float]]) -> list[float]:
    """Per optimizer step, the mean loss of its micro-batches, from ``(step, loss)`` pairs."""
    by_step: dict[int, list[float]] = {}
    for step, loss in micro:
        by_step.setdefault(step, []).append(loss)
    return [sum(v) / len(v) for _, v in sorted(by_step.items())]
