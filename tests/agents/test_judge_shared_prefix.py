"""``judge_shared_prefix``: a transcript the same in both presentation orders, so the two
prompts of a judgment differ only from the answer list on."""

from __future__ import annotations

from pathlib import Path

from agents.judge import ORDERS, PromptedJudge
from oversight.store import Question, Turn

QUESTION = Question(
    id="q",
    dataset="toy",
    split="test",
    text="Which gas do plants take in?",
    choices=["carbon dioxide", "oxygen"],
    correct_index=0,
)
TURNS = [
    Turn(debate_id="d", round=r, speaker=s, model="m", text=f"{s} says round {r}.")
    for r in (0, 1)
    for s in ("debater_1", "debater_2")
]
SIDES = {"debater_1": 1, "debater_2": 0}


def _common(a: str, b: str) -> str:
    """The longest string both start with."""
    n = next((i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), min(len(a), len(b)))
    return a[:n]


def _users(template: str) -> list[str]:
    judge = PromptedJudge.from_template_name("j", "m", template)
    return [judge.messages(QUESTION, TURNS, SIDES, order)[1]["content"] for order in ORDERS]


def test_the_two_orders_share_everything_before_the_answers() -> None:
    first, second = _users("judge_shared_prefix")
    shared = _common(first, second)
    assert shared.endswith("Question: Which gas do plants take in?\n\nA: ")
    assert first[len(shared) :].startswith("carbon dioxide\nB: oxygen")
    assert second[len(shared) :].startswith("oxygen\nB: carbon dioxide")
    # The legend names each debater's answer by its text, in seat order.
    assert "Debater 1 defends: oxygen\nDebater 2 defends: carbon dioxide" in shared
    assert shared.count("<speech") == 4 and "defending" not in shared


def test_letter_templates_differ_from_the_first_speech_and_keep_their_rendering() -> None:
    first, second = _users("judge_skeptic")
    shared = _common(first, second)
    assert shared.endswith('speaker="Debater defending ')  # A in one order, B in the other
    assert not PromptedJudge.from_template_name("j", "m", "judge_skeptic").orders_share_prefix
    assert PromptedJudge.from_template_name("j", "m", "judge_shared_prefix").orders_share_prefix


def test_it_is_a_judge_of_its_own() -> None:
    ids = {
        PromptedJudge.from_template_name("j", "m", t).judge_id
        for t in ("judge", "judge_skeptic", "judge_shared_prefix")
    }
    assert len(ids) == 3


def test_a_template_gets_the_rendering_it_names(tmp_path: Path) -> None:
    """The seat rendering wherever the template names it; sequencing only where it comes
    before the answers (after them, the orders differ before the transcript)."""
    path = tmp_path / "late.txt"
    path.write_text("Judge.\n=== user ===\nA: {answer_a}\nB: {answer_b}\n{seat_transcript_section}")
    judge = PromptedJudge.from_template_name("late", "m", str(path))
    user = judge.messages(QUESTION, TURNS, SIDES, ORDERS[0])[1]["content"]
    assert "Debater 1 defends: oxygen" in user and "defending" not in user
    assert not judge.orders_share_prefix
