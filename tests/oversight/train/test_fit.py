"""The unfit-member rule, on hand-computed numbers and on a real run that cannot learn."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from oversight.store import Question
from oversight.train.config import WeakEnsembleConfig
from oversight.train.fit import check_fit, final_epoch_loss, label_entropy, step_losses
from oversight.train.weak_judges import train_weak_member


def test_label_entropy_is_the_prior_loss() -> None:
    assert label_entropy([[0.0, 1.0], [1.0, 0.0]]) == pytest.approx(math.log(2))
    # mean P(class 1) = 0.25: -(0.25 ln 0.25 + 0.75 ln 0.75) = 0.562335
    assert label_entropy([[0.0, 1.0], [1.0, 0.0], [1.0, 0.0], [1.0, 0.0]]) == pytest.approx(
        0.5623351446
    )
    assert label_entropy([[1.0, 0.0]]) == 0.0


def test_final_epoch_loss_averages_one_epoch_of_batches() -> None:
    # 20 examples, batch 8 -> 3 micro-batches per epoch: mean of the last three
    assert final_epoch_loss([0.9, 0.8, 0.7, 0.6, 0.5, 0.1], 20, 8) == pytest.approx(0.4)
    assert final_epoch_loss([0.6, 0.4], 100, 8) == pytest.approx(0.5)  # shorter than an epoch
    assert math.isnan(final_epoch_loss([], 10, 8))


def test_check_fit_threshold() -> None:
    ln2 = math.log(2)
    assert check_fit(ln2 - 0.02, ln2, 0.01).fit
    assert not check_fit(ln2 - 0.005, ln2, 0.01).fit
    assert not check_fit(ln2 - 0.01, ln2, 0.01).fit  # at the threshold: unfit
    assert not check_fit(0.9, ln2, 0.01).fit  # diverged above the prior
    assert not check_fit(math.nan, ln2, 0.01).fit
    with pytest.raises(ValueError, match="tolerance"):
        check_fit(0.5, ln2, -1.0)


def test_step_losses_mean_micro_batches_per_step() -> None:
    assert step_losses([(0, 1.0), (0, 0.5), (1, 0.2), (2, 0.1), (2, 0.3)]) == pytest.approx(
        [0.75, 0.2, 0.2]
    )


def _questions(n: int) -> list[Question]:
    return [
        Question(
            id=f"q{i}",
            dataset="toy",
            split="test",
            text=f"Which colour is item {i}?",
            choices=["red", "blue"] if i % 2 else ["blue", "red"],
            correct_index=0 if i % 2 else 1,  # the answer is always "blue"
        )
        for i in range(n)
    ]


def test_a_member_that_cannot_learn_is_unfit_and_one_that_can_is_fit(
    tiny_bert: Path, tmp_path: Path
) -> None:
    base = {"model": str(tiny_bert), "members": 1, "batch_size": 8, "max_length": 32}
    base |= {"save_model": False, "lr_scheduler": "constant", "max_steps": 40}
    qs = _questions(16)
    # forced fault: a learning rate of 1e-12 leaves the zeroed head at P = 1/2 (loss ln 2)
    frozen = train_weak_member(
        WeakEnsembleConfig(**base, learning_rate=1e-12), qs, tmp_path / "frozen", seed=0
    )
    m = frozen.metrics
    assert m["prior_entropy"] == pytest.approx(math.log(2))
    assert m["final_epoch_loss"] == pytest.approx(math.log(2), abs=1e-6)
    assert len(m["step_losses"]) == 40
    assert not check_fit(m["final_epoch_loss"], m["prior_entropy"], 0.01).fit
    learner = train_weak_member(
        WeakEnsembleConfig(**base, learning_rate=3e-3), qs, tmp_path / "learner", seed=0
    )
    m = learner.metrics
    assert check_fit(m["final_epoch_loss"], m["prior_entropy"], 0.01).fit, m["step_losses"]


def test_the_default_tolerance_keeps_a_member_a_few_thousandths_below_the_prior() -> None:
    """Measured case (README, w2s_cpu_300): final-epoch loss 0.6894 against ln 2, 72.7% on
    validation. A 0.01-nat tolerance called it unfit; the default must call it fit, and a
    member at or above the prior (every debate reader there: 0.6930-0.6940) unfit."""
    from oversight.pipeline_config import W2SConfig

    tolerance = W2SConfig.model_fields["unfit_tolerance"].default
    ln2 = math.log(2)
    assert check_fit(0.6894, ln2, tolerance).fit
    assert check_fit(0.6910, ln2, tolerance).fit
    for loss in (0.6930, 0.6935, 0.6940):
        assert not check_fit(loss, ln2, tolerance).fit
