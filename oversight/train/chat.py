"""Chat prompts for the generative student (SFT and DPO share them, so the two agree)."""

from __future__ import annotations

from collections.abc import Sequence

LETTERS = "ABCDEFGH"


def question_prompt(question: str, choices: Sequence[str], context: str | None = None) -> str:
    """A multiple-choice question as the user turn."""
    lines = [f"Passage: {context}", ""] if context else []
    lines.append(f"Question: {question}")
    lines += [f"{LETTERS[i]}) {choice}" for i, choice in enumerate(choices)]
    return "\n".join(lines)


def answer_prompt(
    question: str, choices: Sequence[str], context: str | None = None
) -> list[dict[str, str]]:
    """Ask for the correct option: the SFT student's task."""
    text = question_prompt(question, choices, context) + "\nAnswer with the correct option."
    return [{"role": "user", "content": text}]


def answer_completion(choices: Sequence[str], index: int) -> list[dict[str, str]]:
    """The labelled answer as the assistant turn, letter and text."""
    return [{"role": "assistant", "content": f"{LETTERS[index]}) {choices[index]}"}]


def argument_prompt(
    question: str, choices: Sequence[str], context: str | None = None
) -> list[dict[str, str]]:
    """Ask for an argument for the correct answer: the DPO student's task.

    Both sides of a judged debate answered the same question, so one prompt serves the pair;
    the preferred side's argument is ``chosen``, the other ``rejected``.
    """
    text = (
        question_prompt(question, choices, context)
        + "\nWrite a short argument for the correct answer."
    )
    return [{"role": "user", "content": text}]
