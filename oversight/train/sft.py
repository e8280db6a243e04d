"""Generative student, SFT: question -> the labelled answer, through TRL's ``SFTTrainer``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from oversight.train.chat import answer_completion, answer_prompt
from oversight.train.config import SFTStudentConfig
from oversight.train.trl_common import run_trl, trl_arguments

if TYPE_CHECKING:
    from datasets import Dataset


def sft_examples(
    label_rows: Sequence[Mapping[str, Any]], *, context: bool = False, min_confidence: float = 0.0
) -> Dataset:
    """Prompt-completion examples (conversational) from exported label rows.

    The completion is the label's hard answer; ``confidence`` travels along for filtering and
    weighting. Label rows carry no answer key, so neither does this dataset.
    """
    from datasets import Dataset

    rows = [r for r in label_rows if float(r["confidence"]) >= min_confidence]
    return Dataset.from_dict(
        {
            "question_id": [r["question_id"] for r in rows],
            "prompt": [
                answer_prompt(r["question"], r["choices"], r.get("context") if context else None)
                for r in rows
            ],
            "completion": [answer_completion(r["choices"], int(r["hard"])) for r in rows],
            "confidence": [float(r["confidence"]) for r in rows],
        }
    )


def train_sft(
    config: SFTStudentConfig, dataset: Dataset, output_dir: Path, seed: int
) -> dict[str, Any]:
    """Fine-tune on ``sft_examples`` (loss on the completion only); returns training metrics."""
    from trl import SFTConfig, SFTTrainer

    data = dataset.filter(lambda r: r["confidence"] >= config.min_confidence)
    weights = list(data["confidence"])
    data = data.select_columns(["prompt", "completion"])
    args = SFTConfig(
        **trl_arguments(config, output_dir, seed),
        max_length=config.max_length,
        completion_only_loss=True,
    )
    return run_trl(SFTTrainer, args, data, config, weights, output_dir, seed)
