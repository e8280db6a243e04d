"""Sequence classifiers trained on soft labels with the transformers ``Trainer``.

One code path serves the strong student (a causal LM with a linear head on its last token)
and the weak judges (an encoder such as all-MiniLM-L6-v2): ``AutoModelForSequenceClassification``
picks the right head, the pure losses of ``losses.py`` replace the Trainer's loss, and the
Trainer does everything else (batching, schedules, accumulation, devices, mixed precision).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from oversight.models import resolve_model
from oversight.train.config import ClassifierConfig, LoraSettings
from oversight.train.fit import final_epoch_loss, label_entropy, step_losses
from oversight.train.losses import LossFn, make_loss
from oversight.train.quiet import drop_printer, quiet_hf
from oversight.train.saving import save_model, write_training_record

if TYPE_CHECKING:
    import torch
    from datasets import Dataset
    from transformers import PreTrainedModel, PreTrainedTokenizerBase

log = logging.getLogger(__name__)

NUM_LABELS = 2


def _mean_pool_classifier(path: str, dtype: Any) -> Any:
    """A linear head on the attention-masked mean of the backbone's last hidden states."""
    import torch
    from transformers import AutoModel
    from transformers.modeling_outputs import SequenceClassifierOutput

    class MeanPoolClassifier(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.backbone = AutoModel.from_pretrained(path, dtype=dtype)
            self.config = self.backbone.config
            self.classifier = torch.nn.Linear(self.config.hidden_size, NUM_LABELS, dtype=dtype)

        def forward(
            self, input_ids: Any, attention_mask: Any, **kwargs: Any
        ) -> SequenceClassifierOutput:
            hidden = self.backbone(
                input_ids=input_ids, attention_mask=attention_mask, **kwargs
            ).last_hidden_state
            mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1.0)
            return SequenceClassifierOutput(logits=self.classifier(pooled))

    return MeanPoolClassifier()


def load_classifier(
    model: str,
    *,
    lora: LoraSettings | None = None,
    zero_init_head: bool = True,
    dtype: str = "float32",
    pooling: str = "model",
) -> tuple[Any, PreTrainedTokenizerBase]:
    """A two-class sequence classifier and its tokenizer, ready to train.

    The tokenizer truncates from the left: inputs end with the question and the candidate.
    Causal LMs get a pad token (their EOS) so the head can find the last real token; the head
    is zeroed when asked (``openai/weak-to-strong`` does so: training starts from P = 1/2
    everywhere, so the first steps fit the head before the backbone moves).
    """
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    path = resolve_model(model)
    tokenizer = AutoTokenizer.from_pretrained(path)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    tokenizer.truncation_side = "left"  # keep the question and candidate (see inputs.py)
    with quiet_hf():  # the "head newly initialized" report is expected here
        if pooling == "mean":
            net = _mean_pool_classifier(path, getattr(torch, dtype))
        else:
            net = AutoModelForSequenceClassification.from_pretrained(
                path, num_labels=NUM_LABELS, dtype=getattr(torch, dtype)
            )
    net.config.pad_token_id = tokenizer.pad_token_id
    if zero_init_head:
        head = _head(net)
        with torch.no_grad():
            head.weight.zero_()
            if head.bias is not None:
                head.bias.zero_()
    if lora is not None:
        from peft import LoraConfig, TaskType, get_peft_model

        net = get_peft_model(
            net,
            LoraConfig(
                task_type=TaskType.SEQ_CLS,
                r=lora.r,
                lora_alpha=lora.alpha,
                lora_dropout=lora.dropout,
                target_modules=lora.target_modules,
            ),
        )
    return net, tokenizer


def _head(net: PreTrainedModel) -> torch.nn.Linear:
    """The final linear layer of a sequence-classification model (``score`` or ``classifier``)."""
    import torch

    for name in ("score", "classifier"):
        module = getattr(net, name, None)
        if isinstance(module, torch.nn.Linear):
            return module
        out_proj = getattr(module, "out_proj", None)  # RoBERTa-style heads
        if isinstance(out_proj, torch.nn.Linear):
            return out_proj
    raise ValueError(f"cannot find the classification head of {type(net).__name__}")


def tokenize(dataset: Dataset, tokenizer: PreTrainedTokenizerBase, max_length: int) -> Dataset:
    """Token ids (truncated on the tokenizer's side) plus the soft ``labels``; other columns
    are dropped."""
    keep = {"labels"}

    def encode(batch: dict[str, list[Any]]) -> Any:
        return tokenizer(batch["text"], truncation=True, max_length=max_length)

    drop = [c for c in dataset.column_names if c not in keep]
    return dataset.map(encode, batched=True, remove_columns=drop)


def _soft_label_trainer_class() -> type[Any]:
    """The Trainer subclass, built lazily so importing this module does not import torch."""
    from transformers import Trainer

    class SoftLabelTrainer(Trainer):
        """``Trainer`` whose loss is a pure function of (logits, soft labels, progress)."""

        loss_is_scaled_for_ga = False  # our loss is a per-batch mean

        def __init__(self, *args: Any, loss_fn: LossFn, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.loss_fn = loss_fn
            self.micro_losses: list[tuple[int, Any]] = []
            """(optimizer step, detached loss) per training micro-batch: the fit check and
            the per-step curve read them (kept as tensors: no device sync per batch)."""

        def compute_loss(
            self,
            model: Any,
            inputs: dict[str, Any],
            return_outputs: bool = False,
            num_items_in_batch: Any = None,
        ) -> Any:
            targets = inputs.pop("labels")
            outputs = model(**inputs)
            step_frac = self.state.global_step / max(1, self.state.max_steps)
            loss = self.loss_fn(outputs.logits, targets.to(outputs.logits.dtype), step_frac)
            if model.training:
                self.micro_losses.append((self.state.global_step, loss.detach()))
            return (loss, outputs) if return_outputs else loss

    return SoftLabelTrainer


@dataclass
class TrainedClassifier:
    """A fine-tuned classifier kept in memory for prediction, plus what training measured."""

    model: Any
    tokenizer: PreTrainedTokenizerBase
    config: ClassifierConfig
    metrics: dict[str, Any] = field(default_factory=dict)

    def predict(self, texts: Sequence[str]) -> np.ndarray:
        """P(candidate correct) for each text (the class-1 softmax probability)."""
        return predict_proba(
            self.model, self.tokenizer, texts, self.config.eval_batch_size, self.config.max_length
        )


def predict_proba(
    model: Any,
    tokenizer: PreTrainedTokenizerBase,
    texts: Sequence[str],
    batch_size: int,
    max_length: int,
) -> np.ndarray:
    """Class-1 probabilities, in batches, without gradients (inference, not training)."""
    import torch

    model.eval()
    device = next(model.parameters()).device
    out: list[np.ndarray] = []
    with torch.inference_mode():
        for i in range(0, len(texts), batch_size):
            enc = tokenizer(
                list(texts[i : i + batch_size]),
                truncation=True,
                max_length=max_length,
                padding=True,
                return_tensors="pt",
            ).to(device)
            logits = model(**enc).logits.float()
            out.append(torch.softmax(logits, dim=-1)[:, 1].cpu().numpy())
    return np.concatenate(out) if out else np.zeros(0)


def train_classifier(
    config: ClassifierConfig, train: Dataset, output_dir: Path, seed: int
) -> TrainedClassifier:
    """Fine-tune ``config.model`` on ``train`` (columns of ``inputs.EXAMPLE_COLUMNS``).

    Saves the weights as safetensors (when ``config.save_model``) and a ``training.json`` with
    the settings and the loss curves, so a stage folder documents itself. The metrics carry
    what ``oversight.train.fit`` judges a run by: the final-epoch mean training loss, the
    entropy of the training labels' mean, and the loss of every optimizer step.
    """
    from transformers import DataCollatorWithPadding, set_seed

    set_seed(seed)
    model, tokenizer = load_classifier(
        config.model,
        lora=config.lora,
        zero_init_head=config.zero_init_head,
        dtype=config.dtype,
        pooling=config.pooling,
    )
    loss_fn = make_loss(
        config.loss,
        aux_coef=config.aux_coef,
        warmup_frac=config.loss_warmup_frac,
        alpha=config.product_alpha,
        beta=config.product_beta,
    )
    output_dir.mkdir(parents=True, exist_ok=True)
    with quiet_hf():
        data = tokenize(train, tokenizer, config.max_length)
        trainer = _soft_label_trainer_class()(
            model=model,
            args=config.training_arguments(output_dir, seed),
            train_dataset=data,
            data_collator=DataCollatorWithPadding(tokenizer),
            processing_class=tokenizer,
            loss_fn=loss_fn,
        )
        drop_printer(trainer)
        start = time.perf_counter()
        result = trainer.train()
    micro = [(step, float(loss)) for step, loss in trainer.micro_losses]
    metrics: dict[str, Any] = {
        "train_loss": float(result.training_loss),
        "final_epoch_loss": final_epoch_loss(
            [loss for _, loss in micro], len(train), config.batch_size
        ),
        "prior_entropy": label_entropy(list(train["labels"])),
        "step_losses": [round(x, 5) for x in step_losses(micro)],
        "steps": int(result.global_step),
        "examples": len(train),
        "train_seconds": round(time.perf_counter() - start, 2),
        "loss_curve": [
            {"step": e["step"], "loss": e["loss"]} for e in trainer.state.log_history if "loss" in e
        ],
    }
    if config.save_model:
        with quiet_hf():
            save_model(trainer, output_dir)
    write_training_record(output_dir, config.model_dump(mode="json"), seed, metrics)
    log.info(
        "trained %s on %d examples in %.1fs", config.model, len(train), metrics["train_seconds"]
    )
    return TrainedClassifier(trainer.model, tokenizer, config, metrics)
