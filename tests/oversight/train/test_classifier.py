"""The classification student and weak judge: Trainer wiring, learning, LoRA, saving."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest
import torch

from oversight.train import classifier as classifier_module
from oversight.train.classifier import train_classifier
from oversight.train.config import ClassifierConfig, LoraSettings
from oversight.train.inputs import EXAMPLE_COLUMNS

YES = "I think the answer is A because the evidence supports it."
NO = "I think the answer is B because the story says so."


def toy_examples(n: int = 16) -> Any:
    from datasets import Dataset

    rows = [(YES, 0.9) if i % 2 == 0 else (NO, 0.1) for i in range(n)]
    return Dataset.from_dict(
        {
            "question_id": [f"q{i}" for i in range(n)],
            "choice": [i % 2 for i in range(n)],
            "text": [t for t, _ in rows],
            "labels": [[1 - p, p] for _, p in rows],
        }
    )


def config(model: Path, **overrides: Any) -> ClassifierConfig:
    settings: dict[str, Any] = {
        "model": str(model),
        "batch_size": 4,
        "max_steps": 12,
        "learning_rate": 3e-3,
        "lr_scheduler": "constant",
        "max_length": 32,
        "save_model": False,
    }
    settings.update(overrides)
    return ClassifierConfig(**settings)


def test_examples_have_only_the_declared_columns() -> None:
    assert tuple(toy_examples().column_names) == EXAMPLE_COLUMNS


@pytest.mark.parametrize("fixture", ["tiny_chat_model", "tiny_bert"])
def test_classifier_learns_soft_labels(
    fixture: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    model = request.getfixturevalue(fixture)
    steps = 30 if fixture == "tiny_bert" else 12  # the random tiny BERT's pooler needs longer
    trained = train_classifier(config(model, max_steps=steps), toy_examples(), tmp_path, seed=0)
    yes, no = trained.predict([YES, NO])
    assert yes > 0.6 and no < 0.4
    # the zero-initialised head starts at ln 2; the mean training loss must be below it
    assert trained.metrics["steps"] == steps
    assert trained.metrics["train_loss"] < math.log(2)


def test_mean_pooling_reads_every_real_token_and_learns(tiny_bert: Path, tmp_path: Path) -> None:
    trained = train_classifier(
        config(tiny_bert, pooling="mean", max_steps=30), toy_examples(), tmp_path, seed=0
    )
    yes, no = trained.predict([YES, NO])
    assert yes > 0.6 and no < 0.4
    net, tokenizer = trained.model, trained.tokenizer
    enc = tokenizer([YES], return_tensors="pt")
    padded = tokenizer([YES], padding="max_length", max_length=40, return_tensors="pt")
    with torch.no_grad():
        hidden = net.backbone(**enc).last_hidden_state.mean(1)
        by_hand = net.classifier(hidden)
        assert torch.allclose(net(**enc).logits, by_hand, atol=1e-5)
        assert torch.allclose(net(**padded).logits, by_hand, atol=1e-4)  # padding ignored
    with pytest.raises(ValueError, match="takes no lora"):
        config(tiny_bert, pooling="mean", lora=LoraSettings(r=4, alpha=8))


def test_trainer_calls_the_pure_loss_with_training_progress(
    tiny_bert: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[float] = []
    real = classifier_module.make_loss

    def recording(name: str, **kwargs: Any) -> Any:
        fn = real(name, **kwargs)

        def wrapped(logits: torch.Tensor, targets: torch.Tensor, step_frac: float) -> Any:
            assert targets.shape == logits.shape == (4, 2)
            seen.append(step_frac)
            return fn(logits, targets, step_frac)

        return wrapped

    monkeypatch.setattr(classifier_module, "make_loss", recording)
    train_classifier(config(tiny_bert, loss="logconf", max_steps=8), toy_examples(), tmp_path, 0)
    assert seen == pytest.approx([i / 8 for i in range(8)])


def test_lora_trains_adapters_and_head_and_saves_safetensors(
    tiny_chat_model: Path, tmp_path: Path
) -> None:
    cfg = config(tiny_chat_model, lora=LoraSettings(r=4, alpha=8), save_model=True, max_steps=2)
    trained = train_classifier(cfg, toy_examples(8), tmp_path, seed=0)
    trainable = {n for n, p in trained.model.named_parameters() if p.requires_grad}
    assert trainable and all("lora_" in n or "score" in n for n in trainable)
    files = {p.name for p in tmp_path.iterdir()}
    assert "adapter_model.safetensors" in files and "training.json" in files
    assert not [f for f in files if f.endswith((".bin", ".pt", ".pkl"))]


def test_full_model_is_saved_as_safetensors_without_pickle(tiny_bert: Path, tmp_path: Path) -> None:
    train_classifier(config(tiny_bert, save_model=True, max_steps=1), toy_examples(4), tmp_path, 0)
    files = {p.name for p in tmp_path.iterdir()}
    assert "model.safetensors" in files and "config.json" in files
    assert not [f for f in files if f.endswith((".bin", ".pt", ".pkl"))]

    from transformers import AutoModelForSequenceClassification

    reloaded = AutoModelForSequenceClassification.from_pretrained(tmp_path)
    assert reloaded.config.num_labels == 2


def test_truncation_keeps_the_question_and_candidate(tiny_bert: Path) -> None:
    from datasets import Dataset

    from oversight.train.classifier import load_classifier, tokenize

    _, tokenizer = load_classifier(str(tiny_bert))
    text = (
        "Debate:\n" + "the judge reads the transcript " * 20 + "\nQuestion: which?\nAnswer: paris"
    )
    data = Dataset.from_dict(
        {"question_id": ["q"], "choice": [0], "text": [text], "labels": [[0.0, 1.0]]}
    )
    ids = tokenize(data, tokenizer, max_length=12)[0]["input_ids"]
    assert len(ids) == 12
    assert tokenizer.decode(ids, skip_special_tokens=True).endswith("answer : paris")
