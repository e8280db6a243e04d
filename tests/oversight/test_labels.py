"""Labels from stored judgments: aggregation, filtering, immutability, no answer key."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlmodel import select

from oversight.data import make_question
from oversight.labels import (
    LABEL_COLUMNS,
    LabelError,
    LabelRequest,
    aggregate,
    build_label_set,
    label_accuracy,
    label_dataset,
    labels_of,
)
from oversight.store import Debate, Judgment, Question, Store


def test_mean_vote_and_logit_mean_hand_computed() -> None:
    judges = [[0.9, 0.1], [0.6, 0.4], [0.2, 0.8]]
    mean = aggregate(judges, "mean")
    assert mean.soft == pytest.approx([1.7 / 3, 1.3 / 3])
    assert (mean.hard, mean.n_judges) == (0, 3)
    assert mean.confidence == pytest.approx(1.7 / 3)
    assert mean.agreement == pytest.approx(2 / 3)

    vote = aggregate(judges, "vote")
    assert vote.soft == pytest.approx([2 / 3, 1 / 3])
    assert vote.hard == 0

    # geometric mean: (0.9 * 0.6 * 0.2)^(1/3) : (0.1 * 0.4 * 0.8)^(1/3)
    a, b = (0.9 * 0.6 * 0.2) ** (1 / 3), (0.1 * 0.4 * 0.8) ** (1 / 3)
    assert aggregate(judges, "logit-mean").soft == pytest.approx([a / (a + b), b / (a + b)])


def test_vote_tie_is_broken_by_the_mean_and_undecided_judges_split() -> None:
    tie = aggregate([[0.9, 0.1], [0.4, 0.6]], "vote")
    assert tie.soft == pytest.approx([0.5, 0.5])
    assert tie.hard == 0  # mean favours choice 0 (0.65)
    assert aggregate([[0.5, 0.5], [0.3, 0.7]], "vote").soft == pytest.approx([0.25, 0.75])


def test_unknown_method_is_rejected() -> None:
    with pytest.raises(LabelError, match="unknown label method"):
        aggregate([[0.5, 0.5]], "median")  # type: ignore[arg-type]


def _question(i: int, correct: int) -> Question:
    return make_question(
        dataset="toy",
        split="test",
        text=f"Question {i}?",
        choices=[f"yes {i}", f"no {i}"],
        correct_index=correct,
    )


def make_store(tmp_path: Path, name: str = "toy") -> tuple[Store, list[Question]]:
    """Four questions; two protocols; three judges with hand-set probabilities.

    Judge j1/j2/j3 give the first debate of questions 0 and 1 the probabilities 0.9/0.6/0.3 on
    the correct answer, their second debate 0.1 less; questions 2 and 3 get half the margin
    over 1/2. Direct rows get 0.55 from everyone.
    """
    store = Store(f"sqlite:///{tmp_path / 'store.db'}")
    exp = store.open_experiment(name, {}, "hash", "test")
    assert exp.id is not None
    questions = [_question(i, i % 2) for i in range(4)]
    store.add_questions(questions)
    debates, judgments = [], []
    for qi, q in enumerate(questions):
        for proto, n in (("debate", 2), ("direct", 1)):
            for k in range(n):
                did = f"{proto}-{qi}-{k}"
                debates.append(
                    Debate(
                        id=did,
                        experiment_id=exp.id,
                        question_id=q.id,
                        protocol=proto,
                        key=did,
                        status="complete",
                    )
                )
                for ji, judge in enumerate(("j1", "j2", "j3")):
                    p = [0.9, 0.6, 0.3][ji] if proto == "debate" else 0.55
                    p = p if k == 0 else p - 0.1  # the second debate moves every judge a bit
                    if proto == "debate" and qi >= 2:
                        p = 0.5 + (p - 0.5) / 2  # questions 2 and 3: half as decisive
                    p = p if qi % 2 == 0 else 1 - p
                    judgments.append(
                        Judgment(
                            debate_id=did,
                            judge_id=judge,
                            kind="prompted",
                            model="m",
                            probs=[p, 1 - p],
                        )
                    )
                judgments.append(
                    Judgment(
                        debate_id=did,
                        judge_id="j1",
                        kind="prompted",
                        model="m",
                        after_round=0,
                        probs=[0.0, 1.0],
                    )
                )  # not final
    store.insert_ignore(debates)
    store.insert_ignore(judgments)
    return store, questions


def test_label_set_aggregates_judges_and_debates(tmp_path: Path) -> None:
    store, questions = make_store(tmp_path)
    ls = build_label_set(store, "toy", LabelRequest(method="mean", protocol="debate"))
    labels = {lab.question_id: lab for lab in labels_of(store, ls.name)}
    assert len(labels) == 4
    first = labels[questions[0].id]
    # per judge over the two debates: 0.85, 0.55, 0.25; mean over judges 0.55
    assert first.soft == pytest.approx([0.55, 0.45])
    assert (first.hard, first.n_judges) == (0, 3)
    assert first.agreement == pytest.approx(2 / 3)
    assert labels[questions[1].id].hard == 1  # mirrored probabilities
    assert label_accuracy(store, ls.name) == 1.0


def test_filters_by_judges_protocol_questions_and_confidence(tmp_path: Path) -> None:
    store, questions = make_store(tmp_path)
    q0, q1, q2, _ = (q.id for q in questions)
    only_j1 = build_label_set(
        store, "toy", LabelRequest(protocol="debate", judges=("j1",), question_ids=(q0, q2))
    )
    labs = {lab.question_id: lab for lab in labels_of(store, only_j1.name)}
    assert set(labs) == {q0, q2}
    assert labs[q0].soft == pytest.approx([0.85, 0.15])
    assert labs[q2].soft == pytest.approx([0.675, 0.325])
    assert labs[q0].n_judges == 1
    # mean confidence: 0.55 for questions 0 and 1, 0.525 for questions 2 and 3
    confident = build_label_set(store, "toy", LabelRequest(protocol="debate", min_confidence=0.53))
    assert {lab.question_id for lab in labels_of(store, confident.name)} == {q0, q1}
    direct = build_label_set(store, "toy", LabelRequest(protocol="direct"))
    assert [lab.soft[lab.hard] for lab in labels_of(store, direct.name)] == pytest.approx(
        [0.55] * 4
    )
    with pytest.raises(LabelError, match="no final judgments"):
        build_label_set(store, "toy", LabelRequest(protocol="direct", min_confidence=0.9))


def test_label_sets_are_immutable_and_idempotent(tmp_path: Path) -> None:
    store, _ = make_store(tmp_path)
    first = build_label_set(store, "toy", LabelRequest(protocol="debate"), name="mine")
    again = build_label_set(store, "toy", LabelRequest(protocol="debate"), name="mine")
    assert again.id == first.id
    assert len(labels_of(store, "mine")) == 4
    with pytest.raises(LabelError, match="already exists"):
        build_label_set(store, "toy", LabelRequest(protocol="debate", method="vote"), name="mine")


def test_permuting_the_answer_key_changes_no_label(tmp_path: Path) -> None:
    store, _ = make_store(tmp_path)
    before = {
        m: [
            (lab.question_id, lab.soft, lab.hard, lab.confidence, lab.n_judges, lab.agreement)
            for lab in labels_of(
                store,
                build_label_set(store, "toy", LabelRequest(method=m), name=f"before-{m}").name,
            )
        ]
        for m in ("mean", "vote", "logit-mean")
    }
    keys = [q.correct_index for q in store.all(Question)]
    with store.session() as s:  # permute every question's key (binary: swap the two answers)
        for q in s.exec(select(Question)).all():
            q.correct_index = 1 - q.correct_index
            s.add(q)
        s.commit()
    assert [q.correct_index for q in store.all(Question)] != keys
    for m, expected in before.items():
        after = [
            (lab.question_id, lab.soft, lab.hard, lab.confidence, lab.n_judges, lab.agreement)
            for lab in labels_of(
                store, build_label_set(store, "toy", LabelRequest(method=m), name=f"after-{m}").name
            )
        ]
        assert after == expected


def test_label_dataset_has_no_answer_key(tmp_path: Path) -> None:
    store, questions = make_store(tmp_path)
    ls = build_label_set(store, "toy", LabelRequest(protocol="debate"))
    ds = label_dataset(store, ls.name)
    assert tuple(ds.column_names) == LABEL_COLUMNS
    assert "correct_index" not in ds.column_names
    assert len(ds) == 4
    row = ds[0]
    assert row["choices"] == list(
        questions[[q.id for q in questions].index(row["question_id"])].choices
    )
    assert sum(row["soft"]) == pytest.approx(1.0)
