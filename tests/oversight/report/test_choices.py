"""Open roles' picks and cooperative majorities, against numbers worked out by hand."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from oversight.report.choices import MAJORITY, majority_vote, pick_rows
from oversight.report.groups import JudgeGroup
from oversight.report.summary import grouped_judge_rows
from oversight.store import Debate, JudgeKind, Judgment, Question
from oversight.store.judges import BEFORE_FIRST_ROUND, FINAL_VERDICT

CORRECT = {"q1": 0, "q2": 1, "q3": 0, "q4": 1, "q5": 0}


def _questions() -> dict[str, Question]:
    return {
        q: Question(id=q, dataset="t", split="test", text=q, choices=["a", "b"], correct_index=c)
        for q, c in CORRECT.items()
    }


def _judgment(
    debate: str, judge: str, p0: float, after: int, kind: JudgeKind, name: str
) -> Judgment:
    return Judgment(
        debate_id=debate,
        judge_id=judge,
        kind=kind,
        model="m",
        after_round=after,
        probs=[p0, 1 - p0],
        probs_by_order={},
        raw={"judge": name},
    )


DECIDING = JudgeGroup("ensemble (mean)", JudgeKind.PROMPTED, frozenset({"a", "b"}), False, False)


def _open_consultancy() -> tuple[list[Debate], list[Judgment]]:
    # (question, consultant's pick, stance P(answer 0), judges a and b: P(answer 0) or None)
    plan = [
        ("q1", 0, 0.8, (0.8, 0.6)),  # correct pick; judges' mean P(correct) 0.7: right
        ("q2", 1, 0.3, (0.4, 0.6)),  # correct pick; mean 0.5: a tie
        ("q3", 0, 0.9, (0.1, 0.3)),  # correct pick; mean P(correct) 0.2: wrong
        ("q4", 0, 0.6, (0.3, 0.5)),  # wrong pick; mean P(correct = 1) 0.6: right
        ("q5", 1, 0.45, None),  # wrong pick; not judged
    ]
    debates, judgments = [], []
    for q, pick, stance, judged in plan:
        d = f"d-{q}"
        debates.append(
            Debate(
                id=d,
                experiment_id=1,
                question_id=q,
                protocol="open",
                key=d,
                assignment={"consultant": pick},
            )
        )
        judgments.append(
            _judgment(
                d, "stance-id", stance, BEFORE_FIRST_ROUND, JudgeKind.AGENT, "stance consultant"
            )
        )
        for judge, p0 in zip(("a", "b"), judged or (), strict=False):
            judgments.append(_judgment(d, judge, p0, FINAL_VERDICT, JudgeKind.PROMPTED, judge))
    return debates, judgments


def test_how_often_the_chooser_picks_the_correct_answer_and_how_judges_do_on_each() -> None:
    debates, judgments = _open_consultancy()
    (row,) = pick_rows(debates, _questions(), judgments, DECIDING)
    assert (row.protocol, row.chooser, row.judged_by) == ("open", "consultant", "ensemble (mean)")
    assert row.picked_correct.n == 5 and row.picked_correct.value == pytest.approx(3 / 5)
    assert row.picked_correct.ci_low <= 0.6 <= row.picked_correct.ci_high
    # Stance probability on the picked answer: 0.8, 0.7, 0.9, 0.6, 0.55.
    assert row.confidence == pytest.approx((0.8 + 0.7 + 0.9 + 0.6 + 0.55) / 5)
    # Judges on correct picks: right, tie (not correct), wrong; on wrong picks: right (q5 unjudged).
    assert row.judges_when_correct.n == 3
    assert row.judges_when_correct.value == pytest.approx(1 / 3)
    assert row.judges_when_incorrect.n == 1 and row.judges_when_incorrect.value == 1.0
    (half,) = pick_rows(debates, _questions(), judgments, DECIDING, ties="half")
    assert half.judges_when_correct.value == pytest.approx(1.5 / 3)


def test_no_stance_no_pick_row_and_no_deciding_group_leaves_the_accuracies_empty() -> None:
    debates, judgments = _open_consultancy()
    plain = [j for j in judgments if j.after_round != BEFORE_FIRST_ROUND]
    assert pick_rows(debates, _questions(), plain, DECIDING) == []
    (row,) = pick_rows(debates, _questions(), judgments, None)
    assert row.picked_correct.n == 5 and row.judged_by is None
    assert row.judges_when_correct.n == 0 and math.isnan(row.judges_when_correct.value)


def test_the_agents_majority_vote() -> None:
    assert majority_vote([[0.7, 0.3], [0.6, 0.4], [0.2, 0.8]], 0) == (1.0, pytest.approx(2 / 3))
    # An agent at exactly 0.5 abstains; one vote each way is a tie.
    assert majority_vote([[0.5, 0.5], [0.7, 0.3], [0.3, 0.7]], 0) == (0.5, pytest.approx(1 / 3))
    assert majority_vote([[0.1, 0.9], [0.4, 0.6], [0.8, 0.2]], 0) == (0.0, pytest.approx(2 / 3))
    assert majority_vote([[0.5, 0.5], [0.5, 0.5]], 1) == (0.5, 0.0)


@given(st.lists(st.floats(0, 1), min_size=1, max_size=9), st.integers(0, 1))
def test_a_majority_is_the_same_whichever_order_the_agents_answer_in(
    ps: list[float], c: int
) -> None:
    probs = [[p, 1 - p] for p in ps]
    outcome, share = majority_vote(probs, c)
    assert (outcome, share) == majority_vote(probs[::-1], c)
    assert outcome in (0.0, 0.5, 1.0) and 0.0 <= share <= 1.0


def test_cooperative_protocols_get_a_majority_row_beside_the_mean() -> None:
    agents = JudgeGroup("agents (mean)", JudgeKind.AGENT, frozenset({"x", "y", "z"}), False, False)
    answers = {
        "q1": (0.75, 0.625, 0.125),  # 2 of 3 for the correct answer 0
        "q2": (0.5, 0.7, 0.3),  # correct is 1: one abstains, one each way: a tie
        "q3": (0.1, 0.4, 0.8),  # correct is 0: 2 of 3 against
    }
    debates, judgments = [], []
    for q, ps in answers.items():
        d = f"c-{q}"
        debates.append(Debate(id=d, experiment_id=1, question_id=q, protocol="coop", key=d))
        for judge, p0 in zip(("x", "y", "z"), ps, strict=True):
            judgments.append(_judgment(d, judge, p0, FINAL_VERDICT, JudgeKind.AGENT, judge))
    rows = grouped_judge_rows(debates, _questions(), judgments, [agents])
    majority = next(r for r in rows if r.judge == MAJORITY)
    assert majority.is_group and majority.group == "agents (mean)"
    assert (majority.debates, majority.questions, majority.ties) == (3, 3, 1)
    assert majority.accuracy == pytest.approx(1 / 3)
    assert majority.confidence == pytest.approx((2 / 3 + 1 / 3 + 2 / 3) / 3)
    mean = next(r for r in rows if r.judge == "agents (mean)")
    # Means of P(correct): q1 0.5 (tie), q2 1 - 0.5 = 0.5 (tie), q3 0.4333: none correct.
    assert mean.accuracy == 0.0 and mean.ties == 2
    assert [r.judge for r in rows][-2:] == ["agents (mean)", MAJORITY]
