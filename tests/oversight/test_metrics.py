import math

import numpy as np
import pytest

from oversight.metrics import (
    accuracy,
    auroc,
    bootstrap_ci,
    correctness,
    expected_calibration_error,
    pgr,
)


def test_correctness_and_accuracy() -> None:
    # Michael et al. 2023: correct means P(correct) > 0.5, so an exact tie is incorrect by
    # default; "half" counts it as 0.5. Ties are exact: 0.500001 is a win, not a tie.
    p = [0.9, 0.2, 0.5, 0.51, 0.500001]
    assert correctness(p).tolist() == [1.0, 0.0, 0.0, 1.0, 1.0]
    assert correctness(p, "half").tolist() == [1.0, 0.0, 0.5, 1.0, 1.0]
    assert accuracy(correctness(p)) == pytest.approx(3 / 5)
    assert accuracy(correctness(p, "half")) == pytest.approx(3.5 / 5)
    assert math.isnan(accuracy([]))


def test_bootstrap_ci_contains_mean_and_narrows_with_data() -> None:
    rng = np.random.default_rng(1)
    small = rng.integers(0, 2, 20).astype(float)
    large = rng.integers(0, 2, 2000).astype(float)
    lo_s, hi_s = bootstrap_ci(small)
    lo_l, hi_l = bootstrap_ci(large)
    assert lo_s <= small.mean() <= hi_s
    assert hi_l - lo_l < hi_s - lo_s


def test_grouped_bootstrap_is_wider_for_correlated_items() -> None:
    # Each question appears 4 times with identical outcomes: resampling questions must give
    # the same interval as 10 independent items, wider than treating 40 items as independent.
    per_q = [1.0, 0.0, 1.0, 1.0, 0.0, 1.0, 0.0, 1.0, 1.0, 0.0]
    values = [v for v in per_q for _ in range(4)]
    groups = [f"q{i}" for i in range(10) for _ in range(4)]
    lo_g, hi_g = bootstrap_ci(values, groups)
    lo_i, hi_i = bootstrap_ci(values)
    assert hi_g - lo_g > hi_i - lo_i


def test_ece() -> None:
    assert expected_calibration_error([1.0, 1.0], [1, 1]) == pytest.approx(0.0)
    assert expected_calibration_error([0.9, 0.9], [0, 0]) == pytest.approx(0.9)


def test_auroc() -> None:
    assert auroc([0.1, 0.2, 0.8, 0.9], [0, 0, 1, 1]) == 1.0
    assert auroc([0.9, 0.8, 0.2, 0.1], [0, 0, 1, 1]) == 0.0
    assert auroc([0.5, 0.5], [0, 1]) == 0.5


def test_pgr() -> None:
    assert pgr(0.6, 0.7, 0.8) == pytest.approx(0.5)
    assert math.isnan(pgr(0.8, 0.9, 0.8))
    assert math.isnan(pgr(0.8, 0.9, 0.7))
