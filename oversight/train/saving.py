"""Saving trained models as safetensors, with their settings as JSON, and no pickle.

``Trainer.save_model`` writes the weights as safetensors but also ``training_args.bin``, a
pickle of the arguments; a user who later loads a stage folder must never need to unpickle
anything, so that file is removed and the settings are kept in ``training.json`` instead.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".pkl", ".pickle")


def save_model(trainer: Any, output_dir: Path) -> None:
    """Weights (safetensors; adapters only under LoRA) and tokenizer, minus any pickle."""
    trainer.save_model(str(output_dir))
    for path in output_dir.iterdir():
        if path.suffix in PICKLE_SUFFIXES and path.is_file():
            path.unlink()


def write_training_record(
    output_dir: Path, config: dict[str, Any], seed: int, metrics: dict[str, Any]
) -> None:
    """``training.json``: the settings, the seed and what training measured."""
    output_dir.mkdir(parents=True, exist_ok=True)
    record = {"config": config, "seed": seed, "metrics": metrics}
    (output_dir / "training.json").write_text(json.dumps(record, indent=2))
