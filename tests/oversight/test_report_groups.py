"""Report rows per judge group: prompted, replayed, trained and human judges side by side."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import pytest
from rich.console import Console

from oversight.data.records import make_question
from oversight.report import ENSEMBLE, experiment_summary, judge_rows
from oversight.report.groups import (
    HUMAN,
    HUMAN_OFFLINE,
    UnknownGroupError,
    common_debates,
    deciding_group,
    judge_groups,
)
from oversight.report.tables import print_summary
from oversight.store import Debate, JudgeEnsemble, JudgeKind, Judgment, Store
from oversight.store.judges import EXPERIMENT_ENSEMBLE_NAME


def verdict(
    debate: int, judge: str, p_correct: float, kind: JudgeKind, after_round: int = -1
) -> Judgment:
    """A judgment of debate ``d<debate>`` (whose correct answer is ``debate % 2``)."""
    correct = debate % 2
    probs = [p_correct, 1 - p_correct] if correct == 0 else [1 - p_correct, p_correct]
    return Judgment(
        debate_id=f"d{debate}",
        judge_id=judge,
        kind=kind,
        model="m",
        probs=probs,
        after_round=after_round,
        raw={"judge": judge.split("@")[0]},
    )


@pytest.fixture
def store(tmp_path: Path) -> Store:
    """Four debates (two protocols) judged by the run's judge, a replay, a trained weak
    ensemble and human judges."""
    store = Store(f"sqlite:///{tmp_path / 'db.sqlite'}")
    exp = store.open_experiment("e", {}, "h", "v")
    assert exp.id is not None
    debates = []
    for i in range(4):
        q = make_question(
            dataset="t", split="test", text=f"q{i}", choices=["a", "b"], correct_index=i % 2
        )
        store.add_questions([q])
        debates.append(
            Debate(
                id=f"d{i}",
                experiment_id=exp.id,
                question_id=q.id,
                protocol="debate" if i < 2 else "consultancy",
                key=f"k{i}",
                assignment={"debater_1": 0, "debater_2": 1},
                status="complete",
            )
        )
    store.insert_ignore(debates)
    live, offline = JudgeKind.HUMAN_LIVE, JudgeKind.HUMAN_OFFLINE
    store.insert_ignore(
        [verdict(i, "run@1", 0.8, JudgeKind.PROMPTED) for i in range(4)]
        + [verdict(i, "new@2", 0.3, JudgeKind.PROMPTED) for i in range(4)]
        + [verdict(i, "trained:w0", 0.1, JudgeKind.TRAINED) for i in range(4)]
        + [verdict(i, "trained:w1", 0.3, JudgeKind.TRAINED) for i in range(4)]
        + [verdict(i, "human:Ann" if i % 2 else "human:Bo", 0.9, live) for i in range(4)]
        + [verdict(0, "human:Ann", 0.2, live, after_round=0)]  # per-round beliefs: not verdicts
        + [verdict(1, "human-offline:Cy", 0.6, offline)]
        + [verdict(1, "human-offline:Di", 0.45, offline)]
    )
    store.insert_ignore(
        [
            JudgeEnsemble(experiment_id=exp.id, name=EXPERIMENT_ENSEMBLE_NAME, judge_ids=["run@1"]),
            JudgeEnsemble(experiment_id=exp.id, name="new", judge_ids=["new@2"]),
            JudgeEnsemble(
                experiment_id=exp.id,
                name="weak-plain",
                kind="trained",
                judge_ids=["trained:w0", "trained:w1"],
            ),
        ]
    )
    return store


def test_groups_stand_side_by_side_per_protocol(store: Store) -> None:
    rows = experiment_summary(store, "e")["judges"]
    assert [(r["protocol"], r["judge"], r["verdicts"], r["accuracy"]) for r in rows] == [
        ("consultancy", "run", 2, 1.0),
        ("consultancy", ENSEMBLE, 2, 1.0),
        ("consultancy", "new", 2, 0.0),
        ("consultancy", "ensemble new", 2, 0.0),
        ("consultancy", "trained:w0", 2, 0.0),
        ("consultancy", "trained:w1", 2, 0.0),
        ("consultancy", "trained weak-plain", 2, 0.0),
        ("consultancy", HUMAN, 2, 1.0),
        ("debate", "run", 2, 1.0),
        ("debate", ENSEMBLE, 2, 1.0),
        ("debate", "new", 2, 0.0),
        ("debate", "ensemble new", 2, 0.0),
        ("debate", "trained:w0", 2, 0.0),
        ("debate", "trained:w1", 2, 0.0),
        ("debate", "trained weak-plain", 2, 0.0),
        ("debate", HUMAN, 2, 1.0),
        ("debate", HUMAN_OFFLINE, 2, 0.5),
    ]
    kinds = {r["judge"]: r["kind"] for r in rows if r["is_group"]}
    assert kinds == {
        ENSEMBLE: "prompted",
        "ensemble new": "prompted",
        "trained weak-plain": "trained",
        HUMAN: "human-live",
        HUMAN_OFFLINE: "human-offline",
    }
    detailed = experiment_summary(store, "e", per_judge=True)["judges"]
    debate_judges = [r["judge"] for r in detailed if r["protocol"] == "debate"]
    assert (
        debate_judges[-5:]
        == ["human:Ann", "human:Bo", HUMAN, "human-offline:Cy", "human-offline:Di", HUMAN_OFFLINE][
            -5:
        ]
    )


def test_trained_judges_never_join_the_prompted_ensemble(store: Store) -> None:
    """Trained judges recorded in no ensemble get their own row, not the prompted one's."""
    with store.session() as s:
        for e in store.all(JudgeEnsemble):
            s.delete(s.get(JudgeEnsemble, e.id))
        s.commit()
    groups = judge_groups(store.judgments(), [])
    by_label = {g.label: g for g in groups}
    assert by_label[ENSEMBLE].judge_ids == {"run@1", "new@2"}
    assert by_label["trained (mean)"].judge_ids == {"trained:w0", "trained:w1"}
    rows = {(r["protocol"], r["judge"]): r for r in experiment_summary(store, "e")["judges"]}
    # The prompted mean on debate d0: (0.8 + 0.3) / 2 = 0.55 -> correct; d1 the same.
    assert rows[("debate", ENSEMBLE)]["accuracy"] == 1.0
    assert rows[("debate", "trained (mean)")]["accuracy"] == 0.0


def test_offline_humans_count_each_verdict(store: Store) -> None:
    """Cy (0.6) is right and Di (0.45) wrong on d1: 1 of 2 verdicts, not their mean (0.525)."""
    rows = {(r["protocol"], r["judge"]): r for r in experiment_summary(store, "e")["judges"]}
    row = rows[("debate", HUMAN_OFFLINE)]
    assert (row["verdicts"], row["debates"], row["accuracy"]) == (2, 1, 0.5)


def test_same_debates_keeps_only_debates_every_group_judged(store: Store) -> None:
    summary = experiment_summary(store, "e", same_debates=True)
    debate_rows = {
        r["judge"]: r["debates"]
        for r in summary["judges"]
        if r["protocol"] == "debate" and r["is_group"]
    }
    assert debate_rows == {
        ENSEMBLE: 1,
        "ensemble new": 1,
        "trained weak-plain": 1,
        HUMAN: 1,
        HUMAN_OFFLINE: 1,
    }
    judgments = store.judgments()
    groups = judge_groups(judgments, store.all(JudgeEnsemble))
    kept = common_debates(store.all(Debate), judgments, groups)
    assert sorted(d.id for d in kept) == ["d1", "d2", "d3"]


def test_wins_are_decided_by_the_experiment_judges_or_the_group_asked_for(store: Store) -> None:
    judgments = store.judgments()
    groups = judge_groups(judgments, store.all(JudgeEnsemble))
    assert [g.label for g in groups] == [
        ENSEMBLE,
        "ensemble new",
        "trained weak-plain",
        HUMAN,
        HUMAN_OFFLINE,
    ]
    chosen = deciding_group(groups)
    assert chosen is not None and chosen.judge_ids == {"run@1"}
    humans_only = judge_groups([j for j in judgments if j.judge_id.startswith("human")], [])
    chosen = deciding_group(humans_only)
    assert chosen is not None and chosen.label == HUMAN
    assert experiment_summary(store, "e")["wins_judged_by"] == ENSEMBLE
    # By the trained ensemble (mean 0.2 on the correct side), the incorrect side always wins.
    by_trained = experiment_summary(store, "e", wins_by="trained weak-plain")
    assert by_trained["wins_judged_by"] == "trained weak-plain"
    wins = {(w["protocol"], w["speaker"], w["argued"]): w["win_rate"] for w in by_trained["wins"]}
    assert wins[("debate", "any", "incorrect")] == 1.0
    assert wins[("debate", "any", "correct")] == 0.0
    with pytest.raises(UnknownGroupError, match="no judge group 'nobody'"):
        experiment_summary(store, "e", wins_by="nobody")


def test_ties_are_exact_counted_and_follow_the_rule(tmp_path: Path) -> None:
    """P(correct) == 0.5 is a tie (not correct by default, half under 'half'); 0.5 + 6e-6 and
    0.5 + 4e-6 are both correct, and 0.5 - 4e-6 is not."""
    store = Store(f"sqlite:///{tmp_path / 't.sqlite'}")
    exp = store.open_experiment("t", {}, "h", "v")
    assert exp.id is not None
    ps = [0.5, 0.5 + 6e-6, 0.5 + 4e-6, 0.5 - 4e-6]
    for i in range(len(ps)):
        q = make_question(
            dataset="t", split="test", text=f"t{i}", choices=["a", "b"], correct_index=0
        )
        store.add_questions([q])
        store.insert_ignore(
            [
                Debate(
                    id=f"d{i}",
                    experiment_id=exp.id,
                    question_id=q.id,
                    protocol="direct",
                    key=f"k{i}",
                    status="complete",
                )
            ]
        )
    store.insert_ignore(
        [
            Judgment(
                debate_id=f"d{i}",
                judge_id="h:x",
                kind=JudgeKind.HUMAN_LIVE,
                model="human",
                probs=[p, 1 - p],
            )
            for i, p in enumerate(ps)
        ]
    )
    (row,) = experiment_summary(store, "t")["judges"]
    assert (row["ties"], row["accuracy"]) == (1, 0.5)
    (half,) = experiment_summary(store, "t", ties="half")["judges"]
    assert (half["ties"], half["accuracy"]) == (1, 0.625)
    summary = experiment_summary(store, "t")
    assert "P(correct) > 0.5" in summary["rules"]["correct"]
    assert "not correct" in summary["rules"]["ties"]


def test_the_table_fits_80_columns_without_cutting_headers(store: Store) -> None:
    console = Console(width=80, record=True, color_system=None)
    print_summary(console, experiment_summary(store, "e"))
    text = console.export_text()
    assert max(len(line) for line in text.splitlines()) <= 80
    for header in ("protocol", "judge", "acc", "95% CI", "ties", "win rate", "debates"):
        assert header in text
    assert "…" not in text
    assert "P(correct) > 0.5" in text


def test_a_plain_experiment_reports_as_before(store: Store) -> None:
    """With only the experiment's own judges the rows are exactly the ungrouped ones."""
    for j in store.judgments():
        if j.judge_id != "run@1":
            with store.session() as s:
                s.delete(s.get(Judgment, j.id))
                s.commit()
    debates = store.all(Debate)
    questions = {store.question(d.question_id).id: store.question(d.question_id) for d in debates}
    plain = [asdict(r) for r in judge_rows(debates, questions, store.judgments(), {"run@1": "run"})]
    grouped = experiment_summary(store, "e")["judges"]
    keys = (
        "protocol",
        "judge",
        "debates",
        "questions",
        "accuracy",
        "ci_low",
        "ci_high",
        "confidence",
        "verdicts",
        "ties",
    )
    assert [{k: r[k] for k in keys} for r in grouped] == [{k: r[k] for k in keys} for r in plain]
