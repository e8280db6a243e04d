"""Weak-to-strong splits: whole groups per split, stable under a larger limit, validation
carved from the labelling split; checked on the full shared CosmosQA validation set."""

from __future__ import annotations

import hashlib
from collections import defaultdict

import pytest

from oversight.data import load_questions, make_question, shared_data_dir
from oversight.splits import Splits, split_group, split_questions
from oversight.store import Question

FRACTIONS = {"weak": 0.3, "label": 0.35, "test": 0.35}  # experiments/w2s_cpu.toml


def _q(text: str, choices: list[str], context: str | None = None, **meta: str) -> Question:
    return make_question(
        dataset="toy",
        split="test",
        text=text,
        choices=choices,
        correct_index=0,
        context=context,
        meta=dict(meta),
    )


def _where(splits: Splits) -> dict[str, str]:
    return {q: name for name, ids in splits.as_json().items() for q in ids}


def test_group_key_is_the_passage_else_the_group_id_else_the_question() -> None:
    passage = "A short   passage.\n"
    a = _q("Why?", ["x", "y"], passage)
    b = _q("What next?", ["z", "w"], " A short passage. ")  # other question, same passage
    assert split_group(a) == split_group(b)
    assert split_group(a).startswith("passage:")
    assert split_group(_q("Why?", ["x", "y"], "Another passage.")) != split_group(a)
    # no passage: the question text, whatever the choices or their order
    c, d = _q("2 + 2?", ["4", "5"]), _q("2 + 2?", ["5", "4"])
    assert c.id != d.id and split_group(c) == split_group(d)
    # a dataset's own group id wins, so two passages of one story stay together
    e = _q("Who?", ["a", "b"], "Part one.", split_group="story-7")
    f = _q("When?", ["c", "d"], "Part two.", split_group="story-7")
    assert split_group(e) == split_group(f) == "group:toy:story-7"


def test_split_of_a_group_is_its_seeded_hash() -> None:
    q = _q("Why?", ["x", "y"], "Passage.")
    u = int(hashlib.sha256(f"3:{split_group(q)}".encode()).hexdigest()[:12], 16) / 16**12
    expected = "weak" if u < 0.3 else "label" if u < 0.65 else "test"
    assert _where(split_questions([q], FRACTIONS, seed=3))[q.id] == expected


def test_questions_of_one_passage_share_a_split_and_limits_only_extend() -> None:
    questions = [
        _q(f"Question {k} on {p}?", [f"yes {k}", f"no {k}"], f"Passage number {p}.")
        for p in range(60)
        for k in range(3)
    ]
    full = split_questions(questions, FRACTIONS, seed=0, validation=0.2)
    where = _where(full)
    by_passage: dict[str | None, set[str]] = defaultdict(set)
    for q in questions:
        by_passage[q.context].add(where[q.id])
    assert all(len(names) == 1 for names in by_passage.values())
    assert sorted(where) == sorted(q.id for q in questions)
    part = _where(split_questions(questions[:90], FRACTIONS, seed=0, validation=0.2))
    assert all(where[q] == name for q, name in part.items())  # nothing moved


def test_validation_is_carved_from_the_labelling_split() -> None:
    questions = [_q(f"Question {i}?", [f"a{i}", f"b{i}"]) for i in range(400)]
    without = split_questions(questions, FRACTIONS, seed=0)
    with_val = split_questions(questions, FRACTIONS, seed=0, validation=0.25)
    assert without.validation == []
    # the same split B, A and test; only B's lower quarter of hash values is held out
    assert with_val.labelled == without.label
    assert (with_val.weak, with_val.test) == (without.weak, without.test)
    assert not set(with_val.validation) & set(with_val.label)
    assert 0.15 < len(with_val.validation) / len(without.label) < 0.35
    with pytest.raises(ValueError, match="validation"):
        split_questions(questions, FRACTIONS, seed=0, validation=1.0)


def test_full_cosmosqa_has_no_passage_or_question_across_splits() -> None:
    """The shared CosmosQA validation set, as the pipeline loads it (binarized): several
    questions per passage, and one question repeated with paraphrased options. A hash of
    the question id alone left 171 of 1051 test questions with a twin in another split."""
    # The shared data sits beside every checkout (CI included): a missing copy is a failure.
    assert (shared_data_dir() / "cosmosqa" / "valid.jsonl").is_file(), shared_data_dir()
    questions = load_questions("cosmosqa", split="validation", binarize=True, seed=0)
    assert len(questions) == 2985
    where = _where(split_questions(questions, FRACTIONS, seed=0, validation=0.2))
    assert len(where) == len(questions)
    for key in (lambda q: q.context, lambda q: (q.context, q.text)):
        groups: dict[object, set[str]] = defaultdict(set)
        for q in questions:
            groups[key(q)].add(where[q.id])
        assert all(len(names) == 1 for names in groups.values())
    twins = defaultdict(list)
    for q in questions:
        twins[(q.context, q.text)].append(q.id)
    assert sum(len(ids) > 1 for ids in twins.values()) > 300  # the twins are there
