"""Classifier inputs: candidate texts, transcripts by side, targets from labels or the key."""

from __future__ import annotations

import pytest

from oversight.data import make_question
from oversight.store import Turn
from oversight.train.config import InputSettings
from oversight.train.inputs import (
    EXAMPLE_COLUMNS,
    DebateView,
    choice_probs,
    ground_truth_examples,
    label_examples,
    render_transcript,
)

QUESTION = make_question(
    dataset="t",
    split="test",
    text="Sky colour?",
    choices=["blue", "green"],
    correct_index=0,
    context="The sky is blue.",
)
VIEW = DebateView(
    "d1",
    QUESTION.id,
    {"debater_1": 1, "debater_2": 0},
    (
        Turn(debate_id="d1", round=0, speaker="debater_1", model="m", text="Green,  clearly."),
        Turn(debate_id="d1", round=0, speaker="debater_2", model="m", text="Blue."),
    ),
)


def test_choice_probs_averages_both_candidates_views() -> None:
    assert choice_probs([0.8, 0.4]) == pytest.approx([0.7, 0.3])
    assert choice_probs([0.9, 0.9]) == pytest.approx([0.5, 0.5])  # "both correct" says nothing


def test_transcript_is_rendered_relative_to_the_candidate() -> None:
    assert (
        render_transcript(VIEW, 1)
        == "Round 1, supporter: Green, clearly.\nRound 1, opponent: Blue."
    )
    assert (
        render_transcript(VIEW, 0)
        == "Round 1, opponent: Green, clearly.\nRound 1, supporter: Blue."
    )


def test_supporter_only_transcripts_keep_each_candidates_own_case() -> None:
    assert render_transcript(VIEW, 1, "supporter") == "Round 1, supporter: Green, clearly."
    assert render_transcript(VIEW, 0, "supporter") == "Round 1, supporter: Blue."
    ds = ground_truth_examples(
        [QUESTION], InputSettings(transcript=True, speeches="supporter"), {QUESTION.id: [VIEW]}
    )
    assert ds["text"] == [
        "Debate:\nRound 1, supporter: Blue.\nQuestion: Sky colour?\nAnswer: blue",
        "Debate:\nRound 1, supporter: Green, clearly.\nQuestion: Sky colour?\nAnswer: green",
    ]


def test_ground_truth_examples_use_the_key_and_optional_inputs() -> None:
    ds = ground_truth_examples(
        [QUESTION], InputSettings(context=True, transcript=True), {QUESTION.id: [VIEW]}
    )
    assert tuple(ds.column_names) == EXAMPLE_COLUMNS
    assert ds["labels"] == [[0.0, 1.0], [1.0, 0.0]]
    assert ds["text"][0] == (
        "Passage: The sky is blue.\n"
        "Debate:\nRound 1, opponent: Green, clearly.\nRound 1, supporter: Blue.\n"
        "Question: Sky colour?\nAnswer: blue"
    )  # the candidate comes last: left truncation never cuts it
    plain = ground_truth_examples([QUESTION], InputSettings())
    assert plain["text"] == [
        "Question: Sky colour?\nAnswer: blue",
        "Question: Sky colour?\nAnswer: green",
    ]
    with pytest.raises(ValueError, match="no complete debate"):
        ground_truth_examples([QUESTION], InputSettings(transcript=True), {})


def test_label_examples_carry_the_soft_label_and_nothing_of_the_key() -> None:
    row = {
        "question_id": QUESTION.id,
        "question": QUESTION.text,
        "context": "",
        "choices": QUESTION.choices,
        "soft": [0.3, 0.7],
        "hard": 1,
        "confidence": 0.7,
        "n_judges": 2,
        "agreement": 1.0,
    }
    ds = label_examples([row], InputSettings())
    assert [pytest.approx(x) for x in ds["labels"]] == [[0.7, 0.3], [0.3, 0.7]]
    assert tuple(ds.column_names) == EXAMPLE_COLUMNS
