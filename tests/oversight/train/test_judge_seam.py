"""Trained classifiers and imported humans are judges of the one seam (``oversight.judging``)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from oversight.judging import HumanJudge, HumanJudgeError, Judge, JudgeVerdict, judgment_row
from oversight.store import JudgeKind, Question, Turn
from oversight.train.config import WeakEnsembleConfig
from oversight.train.inputs import DebateView, prediction_texts, question_row
from oversight.train.weak_judges import (
    ClassifierJudge,
    JudgeTarget,
    judge_debates,
    train_weak_member,
    trained_judge_id,
)


def _question(i: int) -> Question:
    return Question(
        id=f"q{i}",
        dataset="toy",
        split="test",
        text=f"Which colour is item {i}?",
        choices=["red", "blue"] if i % 2 else ["blue", "red"],
        correct_index=0 if i % 2 else 1,
    )


def test_a_trained_classifier_judges_through_the_seam_as_in_a_batch(
    tiny_bert: Path, tmp_path: Path
) -> None:
    cfg = WeakEnsembleConfig(
        model=str(tiny_bert),
        members=1,
        batch_size=8,
        max_length=64,
        save_model=False,
        max_steps=4,
        inputs={"transcript": True},
    )
    qs = [_question(i) for i in range(8)]
    turns = (
        Turn(debate_id="d0", round=0, speaker="debater_1", model="m", text="Blue, plainly."),
        Turn(debate_id="d0", round=0, speaker="debater_2", model="m", text="Red, surely."),
    )
    views = {
        q.id: [DebateView(f"d{i}", q.id, {"debater_1": 0, "debater_2": 1}, turns)]
        for i, q in enumerate(qs)
    }
    member = train_weak_member(cfg, qs, tmp_path / "m", seed=0, views=views)
    judge = ClassifierJudge(member, trained_judge_id("run/m0"))
    assert isinstance(judge, Judge)
    assert (judge.kind, judge.model, judge.name) == (JudgeKind.TRAINED, str(tiny_bert), "run/m0")
    q = qs[0]
    view = views[q.id][0]
    (row,) = judge_debates(member, judge.judge_id, {q.id: q}, [JudgeTarget("d0", q.id, view)])
    one = asyncio.run(judge.judge(None, q, list(turns), view.assignment))  # type: ignore[arg-type]
    assert one.probs == pytest.approx(row.probs)
    assert sum(one.probs) == pytest.approx(1.0)
    assert (row.judge_id, row.kind, row.after_round) == (judge.judge_id, JudgeKind.TRAINED, -1)
    assert one.raw["p_candidate_correct"] == pytest.approx(row.raw["p_candidate_correct"])
    # The transcript it reads is the debate's: another debate is scored as its own batch row.
    other = (Turn(debate_id="d1", round=0, speaker="debater_1", model="m", text="zzz " * 20),)
    moved = asyncio.run(judge.judge(None, q, list(other), view.assignment))  # type: ignore[arg-type]
    view1 = DebateView("d1", q.id, view.assignment, other)
    (row1,) = judge_debates(member, judge.judge_id, {q.id: q}, [JudgeTarget("d1", q.id, view1)])
    assert moved.raw["p_candidate_correct"] == pytest.approx(row1.raw["p_candidate_correct"])
    texts = prediction_texts(question_row(q), cfg.inputs, view1)
    assert len(texts) == 2 and all("zzz" in t for t in texts)


def test_a_human_judge_is_recorded_never_asked() -> None:
    live, offline = HumanJudge("Ann"), HumanJudge("Bo", offline=True)
    assert isinstance(live, Judge) and isinstance(offline, Judge)
    assert (live.judge_id, live.kind) == ("human:Ann", JudgeKind.HUMAN_LIVE)
    assert offline.kind == JudgeKind.HUMAN_OFFLINE and offline.judge_id != "human:Bo"
    row = judgment_row(offline, "d", 0, JudgeVerdict([0.3, 0.7], {"0,1": [0.3, 0.7]}))
    assert (row.judge_id, row.kind, row.model, row.after_round) == (
        offline.judge_id,
        JudgeKind.HUMAN_OFFLINE,
        "human",
        0,
    )
    with pytest.raises(HumanJudgeError, match="imported"):
        asyncio.run(live.judge(None, _question(0), [], {}))  # type: ignore[arg-type]
