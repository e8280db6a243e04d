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
    compute_labels,
    label_accuracy,
    label_dataset,
    labels_of,
    tie_coin,
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


def test_an_exact_tie_is_broken_by_a_seeded_coin_not_by_position() -> None:
    """Index 0 for every tie would make the accuracy of near-uniform labels a measure of where
    the answer key sits; a coin per question is right half the time whatever the key."""
    keys = [f"0\0q{i}" for i in range(200)]
    hards = [aggregate([[0.5, 0.5]], "mean", tie_key=k).hard for k in keys]
    assert 70 < sum(hards) < 130  # both choices, about half each
    assert hards == [aggregate([[0.3, 0.7], [0.7, 0.3]], tie_key=k).hard for k in keys]  # stable
    assert hards == [tie_coin([0, 1], k) for k in keys]
    tie = aggregate([[0.3, 0.7], [0.7, 0.3]], "mean", tie_key=keys[0])
    assert tie.tied and tie.soft == [0.5, 0.5] and tie.confidence == 0.5
    assert tie.agreement == 0.5  # one judge of two favours the coin's choice
    # vote: a tie of votes goes to the mean when the mean is not tied itself
    assert not aggregate([[0.9, 0.1], [0.4, 0.6]], "vote", tie_key=keys[0]).tied


def test_ties_are_exact_with_no_tolerance() -> None:
    """0.5 +- 5e-6 used to count as a tie (``np.isclose``); only exact equality does now."""
    near = [0.5 - 4e-6, 0.5 + 4e-6]
    assert not aggregate([near], "mean").tied
    # a vote counts a barely decided judge as decided: it used to split its vote in two
    vote = aggregate([near, [0.9, 0.1], [0.2, 0.8]], "vote")
    assert vote.soft == pytest.approx([1 / 3, 2 / 3]) and vote.hard == 1
    assert aggregate([[0.5, 0.5], [0.9, 0.1]], "vote").soft == pytest.approx([0.75, 0.25])


def test_agreement_counts_an_undecided_judge_as_half() -> None:
    # mean [0.35, 0.65] -> choice 1; judge 1 split (1/2 of a vote for it), judge 2 for it
    agg = aggregate([[0.5, 0.5], [0.2, 0.8]], "mean")
    assert (agg.hard, agg.agreement, agg.tied) == (1, 0.75, False)


def test_label_set_ties_use_the_requests_seed(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'ties.db'}")
    exp = store.open_experiment("ties", {}, "hash", "test")
    assert exp.id is not None
    questions = [_question(i, 0) for i in range(40)]
    store.add_questions(questions)
    store.insert_ignore(
        [
            Debate(
                id=f"d{i}",
                experiment_id=exp.id,
                question_id=q.id,
                protocol="debate",
                key=f"d{i}",
                status="complete",
            )
            for i, q in enumerate(questions)
        ]
    )
    store.insert_ignore(
        [
            Judgment(debate_id=f"d{i}", judge_id=j, kind="prompted", model="m", probs=p)
            for i in range(40)
            for j, p in (("a", [0.3, 0.7]), ("b", [0.7, 0.3]))
        ]
    )
    by_seed = {}
    for seed in (0, 1):
        request = LabelRequest(tie_seed=seed)
        computed = compute_labels(store, exp, request)
        assert all(agg.tied for agg in computed.values()) and len(computed) == 40
        assert {q: a.hard for q, a in computed.items()} == {
            q.id: tie_coin([0, 1], f"{seed}\0{q.id}") for q in questions
        }
        stored = build_label_set(store, "ties", request)
        assert stored.params["tie_seed"] == seed
        by_seed[seed] = [lab.hard for lab in labels_of(store, stored.name)]
        # every key is choice 0: a tie always broken to index 0 would score 100%
        assert 0.25 < label_accuracy(store, stored.name) < 0.75
    assert by_seed[0] != by_seed[1]


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
    # the soft label of the row's own question (make_store: 0.55 for questions 0 and 1,
    # 0.525 for 2 and 3, on the correct answer, which is choice i % 2)
    i = [q.id for q in questions].index(row["question_id"])
    p = 0.55 if i < 2 else 0.525
    assert row["soft"] == pytest.approx([p, 1 - p] if i % 2 == 0 else [1 - p, p])
