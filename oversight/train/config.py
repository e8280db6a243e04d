"""Training configs (pydantic, validated from TOML), each paired with the trainer that uses it.

As in TRL, a config says *what* to train and a trainer function *does* it; the configs turn
into ``transformers.TrainingArguments`` / TRL configs at the last moment, so the TOML schema
stays small, typed and stable across library versions.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, model_validator

if TYPE_CHECKING:
    from transformers import TrainingArguments


LossName = Literal["xent", "logconf", "product"]
"""The weak-to-strong losses of ``losses.py``."""
LOSS_NAMES: tuple[str, ...] = get_args(LossName)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class LoraSettings(_Strict):
    """Low-rank adapters through peft; the classification head is always fully trained."""

    r: int = Field(default=8, ge=1)
    """Adapter rank."""
    alpha: int = Field(default=16, ge=1)
    """Adapter scaling numerator (scale = alpha / r)."""
    dropout: float = Field(default=0.0, ge=0.0, lt=1.0)
    """Dropout on the adapter input."""
    target_modules: list[str] | Literal["all-linear"] = "all-linear"
    """Module names to adapt, or every linear layer but the head."""


class InputSettings(_Strict):
    """What a classifier reads besides the question and the candidate answer."""

    context: bool = False
    """Include the question's hidden material (passage, story). Off by default: the weak
    overseer normally lacks it, which is the gap debate is meant to bridge."""
    transcript: bool = False
    """Include a stored debate transcript of the question (the paper's debate-aided judge)."""
    speeches: Literal["all", "supporter"] = "all"
    """With ``transcript``: every speech, labelled supporter or opponent of the candidate, or
    only the candidate's supporter's speeches. With all of them a question's two candidate
    inputs share most of their tokens (the same speeches, the labels swapped) and a small
    encoder can sit at the prior (README, weak-to-strong); with the supporter's alone each
    input carries its own case."""


class TrainerSettings(_Strict):
    """Optimisation settings shared by every fine-tuning stage."""

    epochs: float = Field(default=2.0, gt=0)
    """Passes over the training set."""
    max_steps: int = Field(default=-1, ge=-1)
    """Stop after this many optimizer steps (-1: run the epochs)."""
    learning_rate: float = Field(default=5e-5, gt=0)
    """Peak learning rate."""
    lr_scheduler: Literal["linear", "cosine", "constant", "constant_with_warmup"] = "cosine"
    """Learning-rate schedule (openai/weak-to-strong anneals with a cosine)."""
    lr_warmup_ratio: float = Field(default=0.0, ge=0.0, lt=1.0)
    """Fraction of steps of linear learning-rate warm-up."""
    weight_decay: float = Field(default=0.0, ge=0.0)
    """AdamW weight decay."""
    batch_size: int = Field(default=8, ge=1)
    """Examples per optimizer step on one device (before accumulation)."""
    grad_accum: int = Field(default=1, ge=1)
    """Gradient accumulation steps."""
    eval_batch_size: int = Field(default=16, ge=1)
    """Examples per forward pass when predicting."""
    max_length: int = Field(default=256, ge=8)
    """Token budget of one input; longer inputs are truncated at the end."""
    dtype: Literal["float32", "bfloat16"] = "float32"
    """Weights dtype (bfloat16 on GPUs)."""
    lora: LoraSettings | None = None
    """Train low-rank adapters instead of all weights."""

    save_model: bool = True
    """Save the trained weights (safetensors) in the stage folder; off saves disk on sweeps."""

    def training_arguments(self, output_dir: Path, seed: int, **extra: Any) -> TrainingArguments:
        """``TrainingArguments`` for one stage: no checkpoints, no trackers, no progress bars."""
        from transformers import TrainingArguments

        return TrainingArguments(**{**self._trainer_kwargs(output_dir, seed), **extra})

    def _trainer_kwargs(self, output_dir: Path, seed: int) -> dict[str, Any]:
        return {
            "output_dir": str(output_dir),
            "num_train_epochs": self.epochs,
            "max_steps": self.max_steps,
            "learning_rate": self.learning_rate,
            "lr_scheduler_type": self.lr_scheduler,
            "warmup_steps": self.lr_warmup_ratio,
            "weight_decay": self.weight_decay,
            "per_device_train_batch_size": self.batch_size,
            "per_device_eval_batch_size": self.eval_batch_size,
            "gradient_accumulation_steps": self.grad_accum,
            "bf16": self.dtype == "bfloat16",
            "seed": seed,
            "data_seed": seed,
            "save_strategy": "no",
            "eval_strategy": "no",
            "report_to": "none",
            "logging_strategy": "steps",
            "logging_steps": 10,
            "disable_tqdm": True,
            "remove_unused_columns": False,
            "dataloader_pin_memory": _has_cuda(),
        }


def _has_cuda() -> bool:
    import torch

    return bool(torch.cuda.is_available())


class ClassifierConfig(TrainerSettings):
    """A sequence classifier (strong student or weak judge) trained on soft labels.

    The model is any ``AutoModelForSequenceClassification``: for a causal LM that is a linear
    head on the last non-padding token, as in ``openai/weak-to-strong``.
    """

    model: str
    """Registry alias, local path or Hub id of the backbone."""
    loss: LossName = "xent"
    """``xent`` (imitate the labels), ``logconf`` (auxiliary confidence) or ``product``."""
    aux_coef: float = Field(default=0.5, ge=0.0, le=1.0)
    """logconf: final weight of the student's own hardened predictions."""
    loss_warmup_frac: float = Field(default=0.1, ge=0.0, le=1.0)
    """logconf: fraction of training over which that weight ramps up from 0."""
    product_alpha: float = Field(default=1.0, gt=0)
    """product: exponent of the weak labels."""
    product_beta: float = Field(default=1.0, gt=0)
    """product: exponent of the student's predictions."""
    zero_init_head: bool = True
    """Start the head at zero, as openai/weak-to-strong does, so training starts at P = 1/2."""
    pooling: Literal["model", "mean"] = "model"
    """What the head reads: ``model``, the model's own sequence-classification head (an
    encoder's first token through its pooler, a causal LM's last token); ``mean``, a linear
    head on the mean of the last hidden states over the real tokens, the representation a
    sentence-embedding encoder such as all-MiniLM-L6-v2 was trained to produce."""
    inputs: InputSettings = Field(default_factory=InputSettings)
    """What the classifier reads besides question and candidate."""

    @model_validator(mode="after")
    def _pooling_without_lora(self) -> ClassifierConfig:
        if self.pooling == "mean" and self.lora is not None:
            raise ValueError("pooling 'mean' trains the whole encoder; it takes no lora")
        return self


class WeakEnsembleConfig(ClassifierConfig):
    """An ensemble of weak classifiers trained on ground truth of the weak split."""

    model: str = "all-minilm-l6-v2"
    """Backbone of every member."""
    members: int = Field(default=4, ge=1)
    """Ensemble size K; members differ by seed and by the transcript sampled per question."""
    learning_rate: float = Field(default=5e-5, gt=0)
    """Peak learning rate."""


class GenerativeSettings(TrainerSettings):
    """A causal LM trained through TRL."""

    model: str
    """Registry alias, local path or Hub id."""
    min_confidence: float = Field(default=0.0, ge=0.0, le=1.0)
    """Drop examples whose judge confidence is below this."""
    confidence_use: Literal["none", "sample_weight"] = "none"
    """``sample_weight``: draw examples with probability proportional to the judges'
    confidence, so the expected loss is the confidence-weighted loss."""


class SFTStudentConfig(GenerativeSettings):
    """SFT on question -> labelled answer (TRL ``SFTTrainer``, loss on the completion only)."""

    learning_rate: float = Field(default=2e-5, gt=0)
    """Peak learning rate."""


class DPOStudentConfig(GenerativeSettings):
    """DPO on judged debates: the argument the judges preferred vs the other one."""

    learning_rate: float = Field(default=5e-6, gt=0)
    """Peak learning rate."""
    beta: float = Field(default=0.1, gt=0)
    """DPO temperature: higher keeps the policy closer to the reference."""
    confidence_use: Literal["none", "sample_weight", "label_smoothing"] = "label_smoothing"  # type: ignore[assignment]
    """``label_smoothing``: robust DPO (Chowdhury et al. 2024) with the flip rate set to one
    minus the judges' mean confidence, i.e. an unsure verdict is treated as a noisy preference;
    ``sample_weight``: confidence-proportional sampling; ``none``: plain sigmoid DPO."""
    max_label_smoothing: float = Field(default=0.4, ge=0.0, lt=0.5)
    """Cap on the robust-DPO flip rate (it must stay below 1/2)."""
