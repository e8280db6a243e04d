"""What the TRL-based students share: tokenizer, LoRA config, and running one TRL trainer."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from oversight.models import resolve_model
from oversight.train.config import GenerativeSettings
from oversight.train.quiet import drop_printer, quiet_hf
from oversight.train.sampling import with_sample_weights
from oversight.train.saving import save_model, write_training_record

if TYPE_CHECKING:
    from datasets import Dataset


def load_tokenizer(model: str) -> Any:
    """The model's tokenizer, with its EOS as pad token when it has none."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(resolve_model(model))
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def peft_config(config: GenerativeSettings) -> Any:
    """A peft ``LoraConfig`` for a causal LM, or ``None`` for full fine-tuning."""
    if config.lora is None:
        return None
    from peft import LoraConfig, TaskType

    return LoraConfig(
        task_type=TaskType.CAUSAL_LM,
        r=config.lora.r,
        lora_alpha=config.lora.alpha,
        lora_dropout=config.lora.dropout,
        target_modules=config.lora.target_modules,
    )


def trl_arguments(config: GenerativeSettings, output_dir: Path, seed: int) -> dict[str, Any]:
    """The shared ``TrainingArguments`` fields for a TRL config (TRL chooses its columns)."""
    kwargs = config._trainer_kwargs(output_dir, seed)
    kwargs.update(remove_unused_columns=True, gradient_checkpointing=False)
    return kwargs


def run_trl(
    trainer_cls: type[Any],
    args: Any,
    data: Dataset,
    config: GenerativeSettings,
    weights: Sequence[float],
    output_dir: Path,
    seed: int,
) -> dict[str, Any]:
    """Build the trainer (weighted sampling if asked), train, save; returns the metrics."""
    extra: dict[str, Any] = {}
    if config.confidence_use == "sample_weight":
        trainer_cls, extra = with_sample_weights(trainer_cls), {"sample_weights": list(weights)}
    with quiet_hf():
        trainer = trainer_cls(
            model=resolve_model(config.model),
            args=args,
            train_dataset=data,
            processing_class=load_tokenizer(config.model),
            peft_config=peft_config(config),
            **extra,
        )
        drop_printer(trainer)
        result = trainer.train()
        metrics: dict[str, Any] = {
            "train_loss": float(result.training_loss),
            "steps": int(result.global_step),
            "examples": len(data),
        }
        if config.save_model:
            save_model(trainer, output_dir)
    write_training_record(output_dir, config.model_dump(mode="json"), seed, metrics)
    return metrics
