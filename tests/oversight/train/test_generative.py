"""The generative student through TRL: SFT on labelled answers, DPO on judged debates."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch

from oversight.data import make_question
from oversight.store import Debate, Judgment, Store, Turn
from oversight.train.config import DPOStudentConfig, SFTStudentConfig
from oversight.train.dpo import dpo_pairs, robust_label_smoothing, train_dpo
from oversight.train.sampling import with_sample_weights
from oversight.train.sft import sft_examples, train_sft

LABEL_ROWS = [
    {
        "question_id": f"q{i}",
        "question": f"Is {i} even?",
        "context": "",
        "choices": ["yes", "no"],
        "soft": [0.8, 0.2] if i % 2 == 0 else [0.3, 0.7],
        "hard": 0 if i % 2 == 0 else 1,
        "confidence": 0.8 if i % 2 == 0 else 0.7,
    }
    for i in range(6)
]


def test_sft_examples_are_question_to_labelled_answer() -> None:
    ds = sft_examples(LABEL_ROWS, min_confidence=0.75)
    assert len(ds) == 3  # the 0.7-confidence rows are dropped
    row = ds[0]
    assert row["prompt"][0]["role"] == "user" and "Is 0 even?" in row["prompt"][0]["content"]
    assert row["completion"] == [{"role": "assistant", "content": "A) yes"}]
    assert set(ds.column_names) == {"question_id", "prompt", "completion", "confidence"}


def test_sft_trains_through_trl(tiny_chat_model: Path, tmp_path: Path) -> None:
    cfg = SFTStudentConfig(
        model=str(tiny_chat_model),
        max_steps=2,
        batch_size=2,
        max_length=128,
        learning_rate=1e-3,
        confidence_use="sample_weight",
    )
    metrics = train_sft(cfg, sft_examples(LABEL_ROWS), tmp_path, seed=0)
    assert metrics["steps"] == 2 and metrics["examples"] == 6
    assert torch.isfinite(torch.tensor(metrics["train_loss"]))
    files = {p.name for p in tmp_path.iterdir()}
    assert "model.safetensors" in files and not [f for f in files if f.endswith(".bin")]


def test_weighted_sampler_draws_in_proportion_to_confidence() -> None:
    class Base:
        def __init__(self, train_dataset: Any) -> None:
            self.train_dataset = train_dataset
            self.args = type("Args", (), {"seed": 0})()

    trainer = with_sample_weights(Base)(list(range(4)), sample_weights=[0.9, 0.1, 0.0, 0.0])
    sampler = trainer._get_train_sampler()
    draws = [i for _ in range(500) for i in sampler]
    assert set(draws) <= {0, 1}
    assert 0.85 < draws.count(0) / len(draws) < 0.95
    with pytest.raises(ValueError, match="sample weights"):
        with_sample_weights(Base)(list(range(3)), sample_weights=[1.0])._get_train_sampler()


def judged_debates(tmp_path: Path) -> Store:
    """Two debates: the judges prefer debater_2's side in the first, debater_1's in the second."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    store = Store(f"sqlite:///{tmp_path / 'dpo.db'}")
    exp = store.open_experiment("dpo", {}, "h", "t")
    assert exp.id is not None
    for i, (p_first, correct) in enumerate([(0.2, 0), (0.9, 1)]):
        q = make_question(
            dataset="toy",
            split="test",
            text=f"Question {i}?",
            choices=[f"alpha {i}", f"beta {i}"],
            correct_index=correct,
        )
        store.add_questions([q])
        did = f"d{i}"
        store.insert_ignore(
            [
                Debate(
                    id=did,
                    experiment_id=exp.id,
                    question_id=q.id,
                    protocol="debate",
                    key=did,
                    status="complete",
                    assignment={"debater_1": 0, "debater_2": 1},
                )
            ]
        )
        store.insert_ignore(
            [
                Turn(debate_id=did, round=r, speaker=s, model="m", text=f"{s} round {r} of {i}")
                for r in range(2)
                for s in ("debater_1", "debater_2")
            ]
        )
        store.insert_ignore(
            [
                Judgment(debate_id=did, judge_id=j, kind="prompted", model="m", probs=[p, 1 - p])
                for j, p in (("a", p_first), ("b", p_first + 0.1))
            ]
        )
    return store


def test_dpo_pairs_prefer_the_side_the_judges_chose(tmp_path: Path) -> None:
    pairs = dpo_pairs(judged_debates(tmp_path), "dpo", protocol="debate")
    assert len(pairs) == 2
    first, second = sorted(pairs, key=lambda r: r["debate_id"])
    assert first["chosen"][0]["content"] == "debater_2 round 0 of 0\n\ndebater_2 round 1 of 0"
    assert first["rejected"][0]["content"].startswith("debater_1 round 0 of 0")
    assert first["confidence"] == pytest.approx(0.75)  # mean of (0.8, 0.7) on choice 1
    assert second["chosen"][0]["content"].startswith("debater_1")
    # the answer key played no part: the second question's key is choice 1, yet the
    # judges' preferred side (choice 0) is chosen
    assert "Question 1?" in second["prompt"][0]["content"]
    only_b = dpo_pairs(
        judged_debates(tmp_path / "b"), "dpo", protocol="debate", judges=["b"], min_confidence=0.75
    )
    assert [r["confidence"] for r in only_b] == pytest.approx([1.0])


def test_robust_label_smoothing_is_one_minus_mean_confidence_capped() -> None:
    assert robust_label_smoothing([0.9, 0.7], cap=0.4) == pytest.approx(0.2)
    assert robust_label_smoothing([0.5, 0.5], cap=0.4) == pytest.approx(0.4)
    assert robust_label_smoothing([], cap=0.4) == 0.0


def test_dpo_trains_with_robust_loss(
    tiny_chat_model: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What TRL's trainer received, not what ``train_dpo`` says it passed: the rows left by
    the confidence filter, their chosen / rejected sides, and the robust loss settings."""
    import trl

    built: list[Any] = []

    class Recording(trl.DPOTrainer):  # type: ignore[misc]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            built.append(self)

    monkeypatch.setattr(trl, "DPOTrainer", Recording)
    pairs = dpo_pairs(judged_debates(tmp_path), "dpo", protocol="debate")
    cfg = DPOStudentConfig(
        model=str(tiny_chat_model),
        max_steps=1,
        batch_size=2,
        max_length=128,
        save_model=False,
        min_confidence=0.8,  # keeps the second debate (0.95) only
        beta=0.3,
    )
    metrics = train_dpo(cfg, pairs, tmp_path / "out", seed=0)
    (trainer,) = built
    assert trainer.loss_types == ["robust"]
    assert trainer.label_smoothing == pytest.approx(1 - 0.95)  # from the kept row alone
    assert trainer.beta == pytest.approx(0.3)
    rows = list(trainer.train_dataset)
    assert len(rows) == 1
    decode = trainer.processing_class.decode
    assert "Question 1?" in decode(rows[0]["prompt_ids"])
    # the judges preferred choice 0 there, argued by debater_1
    assert "debater_1 round 0 of 1" in decode(rows[0]["chosen_ids"])
    assert "debater_1 round 1 of 1" in decode(rows[0]["chosen_ids"])
    assert "debater_2 round 0 of 1" in decode(rows[0]["rejected_ids"])
    assert metrics["steps"] == 1 and torch.isfinite(torch.tensor(metrics["train_loss"]))
