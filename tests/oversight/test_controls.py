"""Positive controls: exactly the configured share of the key flipped, seeded, nested."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from oversight.controls import (
    control_key,
    control_labels,
    control_title,
    flip_count,
    flipped_questions,
)
from oversight.store import Question


def _questions(n: int) -> dict[str, Question]:
    return {
        f"q{i:03d}": Question(
            id=f"q{i:03d}",
            dataset="toy",
            split="test",
            text=f"question {i}",
            choices=["a", "b"],
            correct_index=i % 2,
        )
        for i in range(n)
    }


def test_flip_count_rounds_half_up() -> None:
    assert flip_count(0.2, 10) == 2
    assert flip_count(0.35, 20) == 7
    assert flip_count(0.25, 10) == 3  # 2.5 rounds up, where round() would give 2
    assert flip_count(0.35, 2) == 1  # 0.7
    assert flip_count(0.2, 2) == 0  # 0.4
    with pytest.raises(ValueError, match="flip rate"):
        flip_count(0.5, 10)


def test_labels_have_exactly_the_rate_in_each_part() -> None:
    qs = _questions(50)
    ids = sorted(qs)
    train, val = ids[:40], ids[40:]
    labels = control_labels(qs, [train, val], 0.35, seed=3)
    wrong_train = [q for q in train if labels.hard[q] != qs[q].correct_index]
    wrong_val = [q for q in val if labels.hard[q] != qs[q].correct_index]
    assert len(wrong_train) == 14 and len(wrong_val) == 4  # 0.35 * 40, 0.35 * 10 = 3.5 -> 4
    assert set(wrong_train + wrong_val) == labels.flipped
    assert labels.params()["flipped"] == 18 and labels.params()["questions"] == 50


def test_flips_are_seeded_and_nested_across_rates() -> None:
    ids = [f"q{i}" for i in range(30)]
    low, high = flipped_questions(ids, 0.2, 0), flipped_questions(ids, 0.35, 0)
    assert len(low) == 6 and len(high) == 11 and low < high
    assert flipped_questions(list(reversed(ids)), 0.2, 0) == low  # order of input is irrelevant
    assert flipped_questions(ids, 0.2, 1) != low


def test_names_say_control() -> None:
    assert control_title(0.2) == "control: key with 20% flipped"
    assert control_key(0.35) == "control-35" and control_key(0.125) == "control-12p5"


def test_non_binary_questions_are_refused() -> None:
    q = Question(id="x", dataset="t", split="t", text="?", choices=["a", "b", "c"], correct_index=0)
    with pytest.raises(ValueError, match=r"question x: .*binarized"):
        control_labels({"x": q}, [["x"]], 0.2, 0)


@given(
    n_train=st.integers(0, 120),
    n_val=st.integers(0, 40),
    rates=st.lists(st.floats(0.0, 0.499), min_size=2, max_size=2),
    seed=st.integers(0, 2**16),
)
def test_any_split_and_rate_flips_exactly_the_rounded_share(
    n_train: int, n_val: int, rates: list[float], seed: int
) -> None:
    """In each part: exactly floor(rate * n + 0.5) labels differ from the key (computed here
    independently of ``flip_count``), and a higher rate flips a superset."""
    qs = _questions(n_train + n_val)
    ids = sorted(qs)
    parts = [ids[:n_train], ids[n_train:]]
    low, high = sorted(rates)
    flipped = []
    for rate in (low, high):
        labels = control_labels(qs, parts, rate, seed=seed)
        for part in parts:
            wrong = [q for q in part if labels.hard[q] != qs[q].correct_index]
            assert len(wrong) == math.floor(rate * len(part) + 0.5)
        flipped.append(labels.flipped)
    assert flipped[0] <= flipped[1]
