"""Weak-to-strong losses as pure functions (after ``openai/weak-to-strong``'s ``loss.py``).

Each loss takes the student's logits ``[N, C]``, soft targets ``[N, C]`` (rows sum to 1) and
the fraction of training done, and returns the mean loss. Keeping them free of any trainer
state makes every schedule checkable on hand-computed numbers.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Protocol

import torch
import torch.nn.functional as F

from oversight.train.config import LOSS_NAMES, LossName


class LossFn(Protocol):
    """``(logits [N, C], soft targets [N, C], step_frac in [0, 1]) -> scalar loss``."""

    def __call__(
        self, logits: torch.Tensor, targets: torch.Tensor, step_frac: float
    ) -> torch.Tensor: ...


def warmup_coefficient(step_frac: float, warmup_frac: float, value: float) -> float:
    """Linear ramp from 0 at the start to ``value`` once ``warmup_frac`` of training is done.

    ``openai/weak-to-strong`` writes ``coef = 1.0 if step_frac > warmup_frac else step_frac``,
    which jumps from ``warmup_frac`` to 1 at the end of warm-up; the ramp here is the linear
    schedule the paper describes (and ``EleutherAI/w2s`` implements), continuous at the end.
    """
    if warmup_frac <= 0:
        return value
    return value * min(1.0, max(0.0, step_frac) / warmup_frac)


def xent(logits: torch.Tensor, targets: torch.Tensor, step_frac: float = 0.0) -> torch.Tensor:
    """Cross-entropy against soft targets: the student imitates the weak labels."""
    del step_frac
    return F.cross_entropy(logits.float(), targets.float())


def logconf(
    logits: torch.Tensor,
    targets: torch.Tensor,
    step_frac: float,
    *,
    aux_coef: float = 0.5,
    warmup_frac: float = 0.1,
) -> torch.Tensor:
    """Auxiliary confidence loss (Burns et al. 2023, eq. 1): trust yourself more over time.

    The target mixes the weak labels with the student's own *hardened* predictions,
    ``(1 - a) * weak + a * hard(student)``, where ``a`` ramps linearly to ``aux_coef`` over
    ``warmup_frac``. Hardening uses a threshold set so that the student calls class 1 as often
    as the weak labels do in this batch (the quantile of ``P(class 0)`` at the labels' class-1
    fraction): the student may disagree with the supervisor on *which* items, not on how many,
    which stops it from collapsing onto one class.
    """
    if logits.shape[-1] != 2 or targets.shape[-1] != 2:
        raise ValueError("logconf is defined for two classes")
    logits, targets = logits.float(), targets.float()
    coef = warmup_coefficient(step_frac, warmup_frac, aux_coef)
    preds = torch.softmax(logits, dim=-1)
    class1_fraction = targets.mean(dim=0)[1].clamp(0.0, 1.0)
    threshold = torch.quantile(preds[:, 0], class1_fraction)
    hardened = torch.stack([preds[:, 0] >= threshold, preds[:, 0] < threshold], dim=1).float()
    mixed = targets * (1 - coef) + hardened.detach() * coef
    return F.cross_entropy(logits, mixed)


def product(
    logits: torch.Tensor,
    targets: torch.Tensor,
    step_frac: float = 0.0,
    *,
    alpha: float = 1.0,
    beta: float = 1.0,
) -> torch.Tensor:
    """Cross-entropy against ``weak^alpha * student^beta`` renormalized (a product of experts).

    Where the student is confident and the supervisor unsure, the target follows the student;
    the target is detached so the student is not rewarded for moving it.
    """
    del step_frac
    logits, targets = logits.float(), targets.float()
    preds = torch.softmax(logits, dim=-1)
    target = preds.pow(beta) * targets.pow(alpha)
    target = (target / target.sum(dim=-1, keepdim=True)).detach()
    return F.cross_entropy(logits, target)


def make_loss(
    name: LossName,
    *,
    aux_coef: float = 0.5,
    warmup_frac: float = 0.1,
    alpha: float = 1.0,
    beta: float = 1.0,
) -> LossFn:
    """The named loss with its parameters bound."""
    fn: Callable[..., torch.Tensor]
    if name == "xent":
        fn = xent
    elif name == "logconf":
        fn = partial(logconf, aux_coef=aux_coef, warmup_frac=warmup_frac)
    elif name == "product":
        fn = partial(product, alpha=alpha, beta=beta)
    else:
        raise ValueError(f"unknown loss {name!r} (known: {', '.join(LOSS_NAMES)})")
    return fn
