"""Debater preference pairs: rewards from the ensemble's verdict, pairs across swapped debates."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest

from oversight.data import make_question
from oversight.store import Debate, Judgment, Question, Store, Turn
from oversight.train.debater_pairs import (
    DebaterPairsError,
    debater_pairs,
    rewarded_speeches,
)

SWAP = ({"debater_1": 0, "debater_2": 1}, {"debater_1": 1, "debater_2": 0})


def describe(
    question: Question,
    speaker: str,
    assignment: dict[str, int],
    turns: Sequence[Turn],
    round_: int,
    dropped: Sequence[int],
) -> list[dict[str, str]]:
    """A prompt that spells out what the builder handed over (texts heard last)."""
    seen = ", ".join(f"{t.round}:{t.speaker}" for t in turns)
    heard = " / ".join(t.text for t in turns)
    answer = question.choices[assignment[speaker]]
    return [
        {
            "role": "user",
            "content": f"{question.text} | argue {answer} | round {round_} | saw [{seen}] "
            f"| dropped {list(dropped)} | heard {heard}",
        }
    ]


def swapped_store(
    tmp_path: Path,
    verdicts: dict[str, dict[str, list[float]]],
    *,
    rounds: int = 2,
    extra_turns: Sequence[Turn] = (),
    same_text: bool = False,
) -> Store:
    """One question, two debates (``s0``, ``s1``) with the speakers exchanged, judged as given."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    store = Store(f"sqlite:///{tmp_path / 'pairs.db'}")
    exp = store.open_experiment("pairs", {}, "h", "t")
    assert exp.id is not None
    q = make_question(
        dataset="toy", split="test", text="Which?", choices=["red", "blue"], correct_index=1
    )
    store.add_questions([q])
    for i, assignment in enumerate(SWAP):
        did = f"s{i}"
        store.insert_ignore(
            [
                Debate(
                    id=did,
                    experiment_id=exp.id,
                    question_id=q.id,
                    protocol="debate",
                    key=did,
                    status="complete",
                    assignment=assignment,
                )
            ]
        )
        store.insert_ignore(
            [
                Turn(
                    debate_id=did,
                    round=r,
                    speaker=s,
                    model="m",
                    text=f"for {a} in round {r}" if same_text else f"{did} {s} round {r}",
                )
                for r in range(rounds)
                for s, a in assignment.items()
            ]
        )
        store.insert_ignore(
            [
                Judgment(debate_id=did, judge_id=j, kind="prompted", model="m", probs=p)
                for j, p in verdicts.get(did, {}).items()
            ]
        )
    store.insert_ignore(list(extra_turns))
    return store


# s0: judges a, b give red (answer 0) 0.7 and 0.5 -> 0.6; s1: 0.1 and 0.3 -> 0.2.
VERDICTS = {
    "s0": {"a": [0.7, 0.3], "b": [0.5, 0.5]},
    "s1": {"a": [0.1, 0.9], "b": [0.3, 0.7]},
}


def test_rewards_are_the_ensemble_probability_of_the_argued_answer(tmp_path: Path) -> None:
    store = swapped_store(tmp_path, VERDICTS)
    speeches = rewarded_speeches(store, "pairs", protocol="debate", render_prompt=describe)
    reward = {(s.debate_id, s.speaker, s.round): s.reward for s in speeches}
    assert len(speeches) == 8
    assert reward[("s0", "debater_1", 0)] == pytest.approx(0.6)  # argues red in s0
    assert reward[("s0", "debater_2", 1)] == pytest.approx(0.4)  # blue in s0
    assert reward[("s1", "debater_1", 0)] == pytest.approx(0.8)  # blue in s1
    assert reward[("s1", "debater_2", 1)] == pytest.approx(0.2)  # red in s1
    only_a = rewarded_speeches(
        store, "pairs", protocol="debate", render_prompt=describe, judges=["a"]
    )
    assert {(s.debate_id, s.speaker, s.round): s.reward for s in only_a}[
        ("s0", "debater_1", 0)
    ] == pytest.approx(0.7)


def test_pairs_per_question_round_and_answer(tmp_path: Path) -> None:
    pairs = debater_pairs(
        swapped_store(tmp_path, VERDICTS), "pairs", protocol="debate", render_prompt=describe
    )
    assert len(pairs) == 4  # 2 rounds x 2 answers
    rows = {(r["round"], r["answer"]): r for r in pairs}
    red0 = rows[(0, 0)]
    # red: 0.6 in s0 (debater_1) beats 0.2 in s1 (debater_2)
    assert red0["chosen"] == [{"role": "assistant", "content": "s0 debater_1 round 0"}]
    assert red0["rejected"] == [{"role": "assistant", "content": "s1 debater_2 round 0"}]
    assert (red0["chosen_reward"], red0["rejected_reward"]) == pytest.approx((0.6, 0.2))
    assert red0["margin"] == pytest.approx(0.4)
    assert red0["confidence"] == pytest.approx(0.7)  # (1 + 0.4) / 2
    assert (red0["chosen_debate"], red0["chosen_speaker"]) == ("s0", "debater_1")
    # blue: 0.8 in s1 (debater_1) beats 0.4 in s0 (debater_2)
    blue1 = rows[(1, 1)]
    assert blue1["chosen"][0]["content"] == "s1 debater_1 round 1"
    assert blue1["rejected"][0]["content"] == "s0 debater_2 round 1"
    assert blue1["margin"] == pytest.approx(0.4)
    # the prompt is the chosen speech's: what it argued and the turns it saw
    assert red0["prompt"][0]["content"] == (
        "Which? | argue red | round 0 | saw [] | dropped [] | heard "
    )
    assert blue1["prompt"][0]["content"] == (
        "Which? | argue blue | round 1 | saw [0:debater_1, 0:debater_2] | dropped [] "
        "| heard s1 debater_1 round 0 / s1 debater_2 round 0"
    )
    assert red0["same_prompt"]  # simultaneous first round: one prompt for both
    assert not blue1["same_prompt"]  # round 2: each saw its own debate
    # the answer key (blue) played no part: red is still preferred where red scored higher
    assert red0["chosen_reward"] > red0["rejected_reward"]


def test_sequential_turns_dropped_rounds_and_judge_questions_shape_the_prompt(
    tmp_path: Path,
) -> None:
    judge_q = Turn(debate_id="s0", round=0, speaker="judge", model="m", text="Why?")
    store = swapped_store(tmp_path, VERDICTS, rounds=3, extra_turns=[judge_q])
    with store.session() as session:  # s0's debater_1 had round 1 dropped to fit its context
        t = next(t for t in store.turns("s0") if (t.round, t.speaker) == (2, "debater_1"))
        t.context = {"policy": "drop_oldest", "dropped_rounds": [0]}
        session.add(t)
        session.commit()
    speeches = rewarded_speeches(
        store,
        "pairs",
        protocol="debate",
        render_prompt=describe,
        speaker_order=["debater_1", "debater_2"],
    )
    prompt = {(s.debate_id, s.speaker, s.round): s.prompt[0]["content"] for s in speeches}
    assert "saw [0:debater_1] " in prompt[("s0", "debater_2", 0)]  # B hears A first
    assert "saw [] " in prompt[("s0", "debater_1", 0)]
    assert "saw [0:debater_1, 0:debater_2, 0:judge, 1:debater_1]" in prompt[("s0", "debater_2", 1)]
    assert "saw [1:debater_1, 1:debater_2] | dropped [0] |" in prompt[("s0", "debater_1", 2)]
    assert not any(s.speaker == "judge" for s in speeches)  # the judge argues no side
    with pytest.raises(DebaterPairsError, match="'debater_2' of debate s0 is not in"):
        rewarded_speeches(
            store, "pairs", protocol="debate", render_prompt=describe, speaker_order=["debater_1"]
        )


def test_no_pair_without_a_difference(tmp_path: Path) -> None:
    tied = {"s0": {"a": [0.6, 0.4]}, "s1": {"a": [0.6, 0.4]}}
    pairs = debater_pairs(
        swapped_store(tmp_path / "tie", tied), "pairs", protocol="debate", render_prompt=describe
    )
    assert len(pairs) == 0  # equal rewards
    same = debater_pairs(
        swapped_store(tmp_path / "same", VERDICTS, same_text=True),
        "pairs",
        protocol="debate",
        render_prompt=describe,
    )
    assert len(same) == 0  # identical speeches


def test_unjudged_debates_are_left_out_and_nothing_judged_is_an_error(tmp_path: Path) -> None:
    one = swapped_store(tmp_path / "one", {"s0": VERDICTS["s0"]})
    speeches = rewarded_speeches(one, "pairs", protocol="debate", render_prompt=describe)
    assert {s.debate_id for s in speeches} == {"s0"}
    assert len(debater_pairs(one, "pairs", protocol="debate", render_prompt=describe)) == 0
    with pytest.raises(DebaterPairsError, match="no complete, judged debates of protocol"):
        debater_pairs(
            swapped_store(tmp_path / "none", {}),
            "pairs",
            protocol="debate",
            render_prompt=describe,
        )
    with pytest.raises(DebaterPairsError, match=r"with judges \['z'\]"):
        debater_pairs(
            swapped_store(tmp_path / "z", VERDICTS),
            "pairs",
            protocol="debate",
            render_prompt=describe,
            judges=["z"],
        )
