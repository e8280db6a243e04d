"""Rendering stored turns as the text a speaker or a judge reads."""

from __future__ import annotations

from collections.abc import Sequence

from agents.quotes import mark_quotes
from oversight.store.tables import Turn

LETTERS = "ABCDEFGH"


def role_of(speaker: str) -> str:
    """Display role for a speaker slot name such as ``debater_1`` or ``consultant``."""
    return "Consultant" if speaker.startswith("consultant") else "Debater"


def letter_for(choice: int, order: Sequence[int]) -> str:
    """Letter under which ``choice`` is shown when choices are presented in ``order``."""
    return LETTERS[list(order).index(choice)]


def for_speaker(turns: Sequence[Turn], me: str, assignment: dict[str, int]) -> str:
    """The transcript so far as a speaker sees it: its own speeches and the others'."""
    lines = []
    for t in turns:
        who = "You" if t.speaker == me else f"Opponent ({role_of(t.speaker)})"
        side = letter_for(assignment[t.speaker], range(len(LETTERS)))
        lines.append(f"Round {t.round + 1}, {who}, defending {side}:\n{t.text.strip()}")
    return "\n\n".join(lines)


def for_judge(
    turns: Sequence[Turn],
    assignment: dict[str, int],
    order: Sequence[int],
    context: str | None,
) -> str:
    """The transcript as a judge sees it, under one presentation order of the answers.

    Speakers are named by the letter of the answer they defend in this order, and quotes are
    marked verified or unverified against the hidden context.
    """
    lines = []
    for t in turns:
        side = letter_for(assignment[t.speaker], order)
        text = mark_quotes(t.text.strip(), context)
        lines.append(f"Round {t.round + 1}, {role_of(t.speaker)} defending {side}:\n{text}")
    return "\n\n".join(lines)
