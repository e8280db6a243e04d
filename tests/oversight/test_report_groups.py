"""Report rows per judge group: experiment judges, replayed ensembles and humans side by side."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import pytest

from oversight.data.records import make_question
from oversight.report import ENSEMBLE, experiment_summary, judge_rows
from oversight.report.groups import common_debates, judge_groups, primary_group
from oversight.store import Debate, JudgeEnsemble, Judgment, Store


@pytest.fixture
def store(tmp_path: Path) -> Store:
    """Four debates (two protocols) judged by the run's judge, a replay and human judges."""
    store = Store(f"sqlite:///{tmp_path / 'db.sqlite'}")
    exp = store.open_experiment("e", {}, "h", "v")
    assert exp.id is not None
    debates = []
    for i in range(4):
        q = make_question(dataset="t", split="test", text=f"q{i}", choices=["a", "b"],
                          correct_index=i % 2)
        store.add_questions([q])
        debates.append(Debate(id=f"d{i}", experiment_id=exp.id, question_id=q.id,
                              protocol="debate" if i < 2 else "consultancy", key=f"k{i}",
                              assignment={"debater_1": 0, "debater_2": 1}, status="complete"))
    store.insert_ignore(debates)

    def verdict(debate: int, judge: str, p_correct: float, after_round: int = -1) -> Judgment:
        correct = debate % 2
        probs = [p_correct, 1 - p_correct] if correct == 0 else [1 - p_correct, p_correct]
        return Judgment(debate_id=f"d{debate}", judge_id=judge, model="m", probs=probs,
                        after_round=after_round, raw={"judge": judge.split("@")[0]})

    store.insert_ignore(
        [verdict(i, "run@1", 0.8) for i in range(4)]
        + [verdict(i, "new@2", 0.3) for i in range(4)]
        + [verdict(i, "human:Ann" if i % 2 else "human:Bo", 0.9) for i in range(4)]
        + [verdict(0, "human:Ann", 0.2, after_round=0)]  # per-round beliefs are not verdicts
        + [verdict(1, "human-offline:Cy", 0.6)]
    )
    store.insert_ignore([JudgeEnsemble(experiment_id=exp.id, name="new", judge_ids=["new@2"])])
    return store


def test_groups_stand_side_by_side_per_protocol(store: Store) -> None:
    rows = experiment_summary(store, "e")["judges"]
    assert [(r["protocol"], r["judge"], r["debates"], r["accuracy"]) for r in rows] == [
        ("consultancy", "run", 2, 1.0),
        ("consultancy", ENSEMBLE, 2, 1.0),
        ("consultancy", "new", 2, 0.0),
        ("consultancy", "ensemble new", 2, 0.0),
        ("consultancy", "human", 2, 1.0),
        ("debate", "run", 2, 1.0),
        ("debate", ENSEMBLE, 2, 1.0),
        ("debate", "new", 2, 0.0),
        ("debate", "ensemble new", 2, 0.0),
        ("debate", "human", 2, 1.0),
        ("debate", "human (offline)", 1, 1.0),
    ]
    detailed = experiment_summary(store, "e", per_judge=True)["judges"]
    debate_judges = [r["judge"] for r in detailed if r["protocol"] == "debate"]
    assert debate_judges == ["run", ENSEMBLE, "new", "ensemble new", "human:Ann", "human:Bo",
                             "human", "human-offline:Cy", "human (offline)"]


def test_same_debates_keeps_only_debates_every_group_judged(store: Store) -> None:
    summary = experiment_summary(store, "e", same_debates=True)
    debate_rows = {r["judge"]: r["debates"] for r in summary["judges"]
                   if r["protocol"] == "debate"}
    assert debate_rows == {"run": 1, ENSEMBLE: 1, "new": 1, "ensemble new": 1, "human": 1,
                           "human (offline)": 1}
    judgments = store.judgments()
    groups = judge_groups(judgments, store.all(JudgeEnsemble))
    kept = common_debates(store.all(Debate), judgments, groups)
    assert sorted(d.id for d in kept) == ["d1", "d2", "d3"]


def test_wins_are_decided_by_the_experiment_judges_else_humans(store: Store) -> None:
    judgments = store.judgments()
    groups = judge_groups(judgments, store.all(JudgeEnsemble))
    assert [g.label for g in groups] == [ENSEMBLE, "ensemble new", "human", "human (offline)"]
    primary = primary_group(groups)
    assert primary is not None and primary.judge_ids == {"run@1"}
    humans_only = judge_groups([j for j in judgments if j.judge_id.startswith("human")], [])
    primary = primary_group(humans_only)
    assert primary is not None and primary.label == "human"
    assert experiment_summary(store, "e")["wins_judged_by"] == ENSEMBLE


def test_a_plain_experiment_reports_as_before(store: Store) -> None:
    """Without replays or humans the rows are exactly the ungrouped ones."""
    for j in store.judgments():
        if j.judge_id != "run@1":
            with store.session() as s:
                s.delete(s.get(Judgment, j.id))
                s.commit()
    with store.session() as s:
        for e in store.all(JudgeEnsemble):
            s.delete(s.get(JudgeEnsemble, e.id))
        s.commit()
    debates = store.all(Debate)
    questions = {store.question(d.question_id).id: store.question(d.question_id)
                 for d in debates}
    plain = [asdict(r) for r in judge_rows(debates, questions, store.judgments(),
                                           {"run@1": "run"})]
    assert experiment_summary(store, "e")["judges"] == plain
