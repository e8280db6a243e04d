"""The real offline models in their weak-to-strong roles (marked: slower, still run in CI).

all-MiniLM-L6-v2 as a weak judge backbone (full fine-tuning) and SmolLM2-135M as the strong
student (LoRA, head on the last token) learn a separable toy task, then judge real questions.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from oversight.data import load_questions
from oversight.train.classifier import train_classifier
from oversight.train.config import ClassifierConfig, InputSettings, LoraSettings
from oversight.train.inputs import choice_probs, prediction_texts, question_row
from oversight.train.weak_judges import JudgeTarget, judge_debates
from tests.oversight.train.test_classifier import NO, YES, toy_examples

pytestmark = pytest.mark.real_model


def test_minilm_judge_and_smollm2_lora_student(tmp_path: Path) -> None:
    questions = load_questions("arc", split="test", limit=4, seed=0)
    weak = train_classifier(
        ClassifierConfig(
            model="all-minilm-l6-v2",
            max_steps=20,
            batch_size=8,
            learning_rate=5e-4,
            lr_scheduler="constant",
            max_length=64,
            save_model=False,
        ),
        toy_examples(16),
        tmp_path / "weak",
        seed=0,
    )
    yes, no = weak.predict([YES, NO])
    assert yes > 0.6 and no < 0.4
    verdicts = judge_debates(
        weak,
        "trained:test",
        {q.id: q for q in questions},
        [JudgeTarget(f"d{i}", q.id) for i, q in enumerate(questions)],
    )
    assert len(verdicts) == 4
    for q, v in zip(questions, verdicts, strict=True):
        # each verdict is this judge's own reading of this debate's question, candidate by
        # candidate, combined as choice_probs says: (p0 + 1 - p1) / 2 on choice 0
        p0, p1 = weak.predict(prediction_texts(question_row(q), InputSettings()))
        assert v.debate_id == f"d{questions.index(q)}"
        assert v.raw["p_candidate_correct"] == pytest.approx([p0, p1], abs=1e-5)
        assert v.probs == pytest.approx([(p0 + 1 - p1) / 2, (p1 + 1 - p0) / 2], abs=1e-5)

    strong = train_classifier(
        ClassifierConfig(
            model="smollm2-135m-instruct",
            max_steps=8,
            batch_size=8,
            learning_rate=2e-3,
            lr_scheduler="constant",
            max_length=64,
            lora=LoraSettings(r=8, alpha=16),
            loss="logconf",
            save_model=True,
        ),
        toy_examples(16),
        tmp_path / "strong",
        seed=0,
    )
    yes, no = strong.predict([YES, NO])
    assert yes > no
    assert (tmp_path / "strong" / "adapter_model.safetensors").is_file()
    s0, s1 = strong.predict(prediction_texts(question_row(questions[0]), InputSettings()))
    assert (
        np.isfinite([s0, s1]).all() and s0 != s1
    )  # the head reads the candidate: a collapsed score would be the same twice
    assert choice_probs([s0, s1]) == pytest.approx([(s0 + 1 - s1) / 2, (s1 + 1 - s0) / 2])
