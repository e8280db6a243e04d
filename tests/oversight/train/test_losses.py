"""The weak-to-strong losses against hand-computed values."""

from __future__ import annotations

import math

import pytest
import torch

from oversight.train.losses import logconf, make_loss, product, warmup_coefficient, xent


def logits_for(p0: list[float]) -> torch.Tensor:
    """Two-class logits whose softmax puts ``p0`` on class 0."""
    return torch.tensor([[math.log(p / (1 - p)), 0.0] for p in p0])


def cross_entropy(target: list[list[float]], p0: list[float]) -> float:
    """Mean over rows of -sum_c target_c log p_c, written out by hand."""
    rows = [-(t[0] * math.log(p) + t[1] * math.log(1 - p)) for t, p in zip(target, p0, strict=True)]
    return sum(rows) / len(rows)


P0 = [0.9, 0.7, 0.4, 0.2]
"""The student's P(class 0) on four examples; sorted: 0.2, 0.4, 0.7, 0.9."""


def test_xent_is_soft_cross_entropy() -> None:
    targets = [[0.8, 0.2], [0.3, 0.7], [0.5, 0.5], [0.0, 1.0]]
    got = xent(logits_for(P0), torch.tensor(targets), 0.7)
    assert got.item() == pytest.approx(cross_entropy(targets, P0), rel=1e-5)
    assert xent(torch.zeros(1, 2), torch.tensor([[1.0, 0.0]])).item() == pytest.approx(math.log(2))


@pytest.mark.parametrize(
    ("step_frac", "expected"),
    [(0.0, 0.0), (0.02, 0.1), (0.05, 0.25), (0.1, 0.5), (0.1000001, 0.5), (0.5, 0.5), (1.0, 0.5)],
)
def test_warmup_ramps_linearly_to_the_coefficient(step_frac: float, expected: float) -> None:
    assert warmup_coefficient(step_frac, 0.1, 0.5) == pytest.approx(expected)


def test_warmup_of_zero_applies_the_full_coefficient_at_once() -> None:
    assert warmup_coefficient(0.0, 0.0, 0.5) == 0.5


def test_logconf_at_start_of_warmup_equals_xent() -> None:
    targets = torch.tensor([[0.8, 0.2], [0.4, 0.6], [0.4, 0.6], [0.4, 0.6]])
    assert logconf(logits_for(P0), targets, 0.0).item() == pytest.approx(
        xent(logits_for(P0), targets).item(), rel=1e-6
    )


def test_logconf_mid_warmup_hand_computed() -> None:
    # Labels' class-1 fraction is (0.2 + 0.6 * 3) / 4 = 0.5, so the threshold is the median of
    # P(class 0): quantile([0.2, 0.4, 0.7, 0.9], 0.5) = 0.55 (linear interpolation). The
    # student's hardened predictions are class 0 for 0.9 and 0.7, class 1 for 0.4 and 0.2.
    # At 5% of training with a 10% warm-up the coefficient is 0.5 * 0.05 / 0.1 = 0.25.
    targets = [[0.8, 0.2], [0.4, 0.6], [0.4, 0.6], [0.4, 0.6]]
    hardened = [[1, 0], [1, 0], [0, 1], [0, 1]]
    mixed = [
        [0.75 * t[0] + 0.25 * h[0], 0.75 * t[1] + 0.25 * h[1]]
        for t, h in zip(targets, hardened, strict=True)
    ]
    assert mixed[1] == pytest.approx([0.55, 0.45])
    got = logconf(logits_for(P0), torch.tensor(targets), 0.05, aux_coef=0.5, warmup_frac=0.1)
    assert got.item() == pytest.approx(cross_entropy(mixed, P0), rel=1e-5)


def test_logconf_after_warmup_uses_the_full_coefficient() -> None:
    targets = [[0.8, 0.2], [0.4, 0.6], [0.4, 0.6], [0.4, 0.6]]
    hardened = [[1, 0], [1, 0], [0, 1], [0, 1]]
    mixed = [
        [0.5 * t[0] + 0.5 * h[0], 0.5 * t[1] + 0.5 * h[1]]
        for t, h in zip(targets, hardened, strict=True)
    ]
    for frac in (0.1, 0.6, 1.0):
        got = logconf(logits_for(P0), torch.tensor(targets), frac, aux_coef=0.5, warmup_frac=0.1)
        assert got.item() == pytest.approx(cross_entropy(mixed, P0), rel=1e-5)


def test_logconf_threshold_follows_the_labels_class_balance() -> None:
    # One label in four is class 1: quantile(sorted P0, 0.25) = 0.2 + 0.75 * (0.4 - 0.2) = 0.35,
    # so only the example with P(class 0) = 0.2 is hardened to class 1.
    targets = [[0.0, 1.0], [1.0, 0.0], [1.0, 0.0], [1.0, 0.0]]
    hardened = [[1, 0], [1, 0], [1, 0], [0, 1]]
    mixed = [
        [0.5 * t[0] + 0.5 * h[0], 0.5 * t[1] + 0.5 * h[1]]
        for t, h in zip(targets, hardened, strict=True)
    ]
    got = logconf(logits_for(P0), torch.tensor(targets), 1.0, aux_coef=0.5, warmup_frac=0.1)
    assert got.item() == pytest.approx(cross_entropy(mixed, P0), rel=1e-5)


def test_logconf_hardened_target_carries_no_gradient() -> None:
    logits = logits_for(P0).requires_grad_(True)
    targets = torch.tensor([[0.8, 0.2], [0.4, 0.6], [0.4, 0.6], [0.4, 0.6]])
    logconf(logits, targets, 1.0, aux_coef=1.0).backward()
    # With aux_coef 1 the target is the detached hardened prediction: d loss / d logits is
    # (softmax - target) / N, exactly as for a constant target.
    hardened = torch.tensor([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0], [0.0, 1.0]])
    expected = (torch.softmax(logits_for(P0), dim=-1) - hardened) / 4
    assert torch.allclose(logits.grad, expected, atol=1e-6)


def test_logconf_rejects_more_than_two_classes() -> None:
    with pytest.raises(ValueError, match="two classes"):
        logconf(torch.zeros(2, 3), torch.full((2, 3), 1 / 3), 0.5)


def test_product_hand_computed() -> None:
    # Student (0.75, 0.25) times weak (0.5, 0.5), renormalized: the target is (0.75, 0.25).
    got = product(torch.tensor([[math.log(3.0), 0.0]]), torch.tensor([[0.5, 0.5]]))
    assert got.item() == pytest.approx(-(0.75 * math.log(0.75) + 0.25 * math.log(0.25)), rel=1e-5)
    # alpha = 2 sharpens the weak label: 0.75 * 0.64 : 0.25 * 0.04 -> (48/49, 1/49).
    got = product(torch.tensor([[math.log(3.0), 0.0]]), torch.tensor([[0.8, 0.2]]), alpha=2.0)
    t0 = 0.75 * 0.64 / (0.75 * 0.64 + 0.25 * 0.04)
    assert got.item() == pytest.approx(-(t0 * math.log(0.75) + (1 - t0) * math.log(0.25)), rel=1e-5)


def test_make_loss_binds_parameters() -> None:
    targets = torch.tensor([[0.8, 0.2], [0.4, 0.6], [0.4, 0.6], [0.4, 0.6]])
    bound = make_loss("logconf", aux_coef=0.3, warmup_frac=0.5)
    direct = logconf(logits_for(P0), targets, 0.25, aux_coef=0.3, warmup_frac=0.5)
    assert bound(logits_for(P0), targets, 0.25).item() == pytest.approx(direct.item())
    with pytest.raises(ValueError, match="unknown loss"):
        make_loss("nope")  # type: ignore[arg-type]
