"""No judge prompt contains the hidden passage: judges who do not see the context read only
what the speakers quoted of it, marked verified or not.

Questions come from the QuALITY fixture (long stories) and the shared BoolQ and CosmosQA
copies; the speeches quote some sentences of each passage, word for word and nearly."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from agents.judge import ORDERS, PromptedJudge
from agents.questioner import Questioner
from oversight.backends.base import Message, SamplingParams
from oversight.data import load_questions
from oversight.store.tables import Question, Turn

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "quality" / "validation.jsonl"
LONG = 8
"""Words from which a sentence of the passage counts as long enough to give it away."""
ASSIGNMENT = {"debater_1": 0, "debater_2": 1}


def _questions() -> list[Question]:
    questions = load_questions("quality", path=FIXTURE, split="dev", limit=3)
    questions += load_questions("boolq", split="test", limit=3)
    questions += load_questions("cosmosqa", split="dev", limit=3)
    assert all(q.context for q in questions)
    return questions


def _sentences(passage: str) -> list[str]:
    """The passage's sentences of at least ``LONG`` words, whitespace collapsed."""
    parts = re.split(r"(?<=[.!?])\s+|\n+", passage)
    return [" ".join(p.split()) for p in parts if len(p.split()) >= LONG]


def _debate(question: Question) -> tuple[list[Turn], list[str]]:
    """Two rounds in which the debaters quote sentences of the passage, and what they quoted."""
    assert question.context is not None
    sentences = _sentences(question.context) or [" ".join(question.context.split()[:LONG])]
    exact = sentences[0]
    near = " ".join(sentences[-1].split()[:-1]) + " indeed"  # a near miss of the last one
    speeches = [
        (0, "debater_1", f"The passage says <quote>{exact}</quote>, so A."),
        (0, "debater_2", f"No: <quote>{near}</quote>. And <quote>an invented line</quote>."),
        (1, "debater_1", "My opponent's quote is not in the passage."),
        (1, "debater_2", "It is, nearly word for word."),
    ]
    turns = [
        Turn(debate_id="d", round=r, speaker=s, model="m", text=t, quotes=[])
        for r, s, t in speeches
    ]
    return turns, [exact, near]


def _text(messages: list[Message]) -> str:
    return " ".join(" ".join(m["content"].split()) for m in messages)


def _judges(sees_context: bool) -> list[PromptedJudge]:
    return [
        PromptedJudge.from_template_name(name, "m", name, sees_context=sees_context)
        for name in ("judge", "judge_skeptic")
    ]


@pytest.mark.parametrize("with_debate", [True, False])
def test_no_judge_prompt_contains_the_passage(with_debate: bool) -> None:
    asker = Questioner(SamplingParams())
    checked = 0
    for question in _questions():
        assert question.context is not None
        turns, quoted = _debate(question) if with_debate else ([], [])
        passage = " ".join(question.context.split())
        prompts = [
            _text(judge.messages(question, turns, ASSIGNMENT, order))
            for judge in _judges(sees_context=False)
            for order in ORDERS
        ]
        if with_debate:
            prompts.append(_text(asker.messages(question, ASSIGNMENT, turns)))
        for prompt in prompts:
            assert passage not in prompt
            for sentence in _sentences(question.context):
                if not any(sentence in q for q in quoted):
                    assert sentence not in prompt
                    checked += 1
            if with_debate:
                assert f"<v_quote>{quoted[0]}</v_quote>" in prompt  # what was quoted is shown
                assert f"<u_quote>{quoted[1]}</u_quote>" in prompt
    assert checked > 100  # many unquoted sentences were looked for


def test_a_judge_that_sees_the_context_is_shown_it() -> None:
    """The check above can fail: the same prompts for a judge with ``sees_context`` hold the
    passage and every sentence of it."""
    for question in _questions():
        assert question.context is not None
        turns, _ = _debate(question)
        passage = " ".join(question.context.split())
        for judge in _judges(sees_context=True):
            prompt = _text(judge.messages(question, turns, ASSIGNMENT, ORDERS[0]))
            assert passage in prompt
            assert all(s in prompt for s in _sentences(question.context))
