"""An over-long transcript is what truncation cuts: the question and answer always survive."""

from __future__ import annotations

from pathlib import Path

from datasets import Dataset

from oversight.store import Turn
from oversight.train.classifier import load_classifier, tokenize
from oversight.train.inputs import DebateView, candidate_text, render_transcript


def _view(words: int) -> DebateView:
    turns = tuple(
        Turn(
            debate_id="d",
            round=r,
            speaker=s,
            model="m",
            text=" ".join(f"claim{r}{s[-1]}{i}" for i in range(words)),
        )
        for r in range(3)
        for s in ("debater_1", "debater_2")
    )
    return DebateView("d", "q", {"debater_1": 0, "debater_2": 1}, turns)


def test_question_and_answer_survive_a_transcript_longer_than_the_budget(
    tiny_bert: Path,
) -> None:
    _, tok = load_classifier(str(tiny_bert))
    tail = "Question: which whale is largest?\nAnswer: the blue whale"
    text = candidate_text(
        "which whale is largest?", "the blue whale", transcript=render_transcript(_view(80), 0)
    )
    assert text.endswith(tail)
    budget = 48
    full = tok(text)["input_ids"]
    assert len(full) > 4 * budget  # the transcript alone is far over the budget
    ids = tokenize(Dataset.from_dict({"text": [text], "labels": [[0.0, 1.0]]}), tok, budget)
    kept = ids[0]["input_ids"]
    assert len(kept) == budget
    want = tok(tail, add_special_tokens=False)["input_ids"]
    # [CLS] ... transcript end ... question answer [SEP]: the tail is intact at the end
    assert kept[-1 - len(want) : -1] == want
    assert kept[0] == tok.cls_token_id and kept[-1] == tok.sep_token_id
    # and what was cut is the start of the transcript (its first speech)
    first = tok("Debate:\nRound 1, supporter:", add_special_tokens=False)["input_ids"]
    assert full[1 : 1 + len(first)] == first and kept[1 : 1 + len(first)] != first
