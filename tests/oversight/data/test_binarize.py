"""Binarization keeps the answer, picks a distractor, and balances positions by a coin."""

from __future__ import annotations

import pytest

from oversight.data import DataError, binarize, load_questions, make_question
from oversight.store.tables import Question


@pytest.fixture(scope="module")
def mmlu() -> list[Question]:
    return load_questions("mmlu", split="test", limit=400, seed=0, binarize=False)


def test_correct_answer_is_kept_with_one_real_distractor(mmlu: list[Question]) -> None:
    for original, binary in zip(mmlu, binarize(mmlu, seed=0), strict=True):
        assert len(binary.choices) == 2
        assert binary.choices[binary.correct_index] == original.choices[original.correct_index]
        distractor = binary.choices[1 - binary.correct_index]
        assert distractor in original.choices
        assert distractor != original.choices[original.correct_index]
        assert binary.meta["binarized_from"] == original.id
        assert binary.meta["subject"] == original.meta["subject"]
        assert (binary.dataset, binary.split, binary.text) == ("mmlu", "test", original.text)
        assert binary.id != original.id


def test_positions_are_balanced(mmlu: list[Question]) -> None:
    first = sum(q.correct_index == 0 for q in binarize(mmlu, seed=0)) / len(mmlu)
    assert 0.42 < first < 0.58


def test_deterministic_and_independent_of_order_and_company(mmlu: list[Question]) -> None:
    forward = {q.meta["binarized_from"]: q for q in binarize(mmlu, seed=7)}
    backward = binarize(list(reversed(mmlu[:50])), seed=7)
    for q in backward:
        twin = forward[q.meta["binarized_from"]]
        assert (q.id, q.choices, q.correct_index) == (twin.id, twin.choices, twin.correct_index)


def test_seed_changes_the_coin(mmlu: list[Question]) -> None:
    a = [q.choices for q in binarize(mmlu[:100], seed=0)]
    b = [q.choices for q in binarize(mmlu[:100], seed=1)]
    assert a != b


def test_two_choice_questions_are_reordered_by_the_coin() -> None:
    boolq = load_questions("boolq", split="test", binarize=False)
    binary = binarize(boolq, seed=0)
    assert {tuple(q.choices) for q in binary} == {("yes", "no"), ("no", "yes")}
    for original, q in zip(boolq, binary, strict=True):
        assert q.choices[q.correct_index] == original.choices[original.correct_index]


def test_distractor_equal_to_the_answer_is_never_kept() -> None:
    q = make_question(
        dataset="t", split="test", text="?", choices=["a", "x", " a ", "a"], correct_index=0
    )
    for seed in range(20):
        (b,) = binarize([q], seed=seed)
        assert sorted(b.choices) == ["a", "x"]


def test_no_distinct_distractor_is_an_error() -> None:
    q = make_question(dataset="t", split="test", text="?", choices=["a", "a"], correct_index=1)
    with pytest.raises(DataError, match=rf"question {q.id} \(t\): field 'choices'"):
        binarize([q])
