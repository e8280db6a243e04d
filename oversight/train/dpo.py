"""Generative student, DPO on judged debates: the argument the judges preferred vs the other.

A debate on a binarized question has one side per answer. Its judges' verdict (mean final
probability over the selected judges) names the preferred answer; the preferred side's
speeches become ``chosen``, the other side's ``rejected``. The verdict's confidence can make
the preference soft: robust DPO treats it as a label flipped with probability
``1 - confidence`` (TRL ``loss_type="robust"``), or it can weight sampling.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from oversight.labels import questions_by_id
from oversight.store import Store
from oversight.train.chat import argument_prompt
from oversight.train.config import DPOStudentConfig
from oversight.train.transcripts import debate_views
from oversight.train.trl_common import run_trl, trl_arguments

if TYPE_CHECKING:
    from datasets import Dataset


def dpo_pairs(
    store: Store,
    experiment: str,
    *,
    protocol: str,
    judges: list[str] | None = None,
    min_confidence: float = 0.0,
    context: bool = False,
) -> Dataset:
    """Preference pairs from an experiment's complete, judged debates (never the answer key)."""
    from datasets import Dataset

    exp = store.require_experiment(experiment)
    assert exp.id is not None
    views = [v for vs in debate_views(store, exp.id, protocol).values() for v in vs]
    wanted = set(judges) if judges is not None else None
    verdicts: dict[str, list[list[float]]] = defaultdict(list)
    for j in store.judgments([v.debate_id for v in views]):
        if j.after_round == -1 and (wanted is None or j.judge_id in wanted):
            verdicts[j.debate_id].append(list(j.probs))
    questions = questions_by_id(store, (v.question_id for v in views))
    rows: dict[str, list[Any]] = defaultdict(list)
    for v in views:
        if not verdicts[v.debate_id] or len(set(v.assignment.values())) < 2:
            continue
        probs = np.mean(np.asarray(verdicts[v.debate_id]), axis=0)
        preferred = int(np.argmax(probs))
        confidence = float(probs.max())
        if confidence < min_confidence:
            continue
        speeches: dict[int, list[str]] = defaultdict(list)
        for t in v.turns:
            if t.speaker in v.assignment:  # a judge's question argues no side
                speeches[v.assignment[t.speaker]].append(t.text.strip())
        other = next(c for c in set(v.assignment.values()) if c != preferred)
        q = questions[v.question_id]
        rows["debate_id"].append(v.debate_id)
        rows["question_id"].append(q.id)
        rows["prompt"].append(argument_prompt(q.text, q.choices, q.context if context else None))
        rows["chosen"].append([{"role": "assistant", "content": "\n\n".join(speeches[preferred])}])
        rows["rejected"].append([{"role": "assistant", "content": "\n\n".join(speeches[other])}])
        rows["confidence"].append(confidence)
    columns = ("debate_id", "question_id", "prompt", "chosen", "rejected", "confidence")
    return Dataset.from_dict({c: rows[c] for c in columns})


def robust_label_smoothing(confidences: list[float], cap: float) -> float:
    """Robust-DPO flip rate from the judges' mean confidence, capped below 1/2."""
    if not confidences:
        return 0.0
    return float(min(cap, max(0.0, 1.0 - float(np.mean(confidences)))))


def train_dpo(
    config: DPOStudentConfig, dataset: Dataset, output_dir: Path, seed: int
) -> dict[str, Any]:
    """DPO-train ``config.model`` on ``dpo_pairs``; returns training metrics."""
    from trl import DPOConfig, DPOTrainer

    data = dataset.filter(lambda r: r["confidence"] >= config.min_confidence)
    confidences = [float(c) for c in data["confidence"]]
    data = data.select_columns(["prompt", "chosen", "rejected"])
    smoothing = 0.0
    loss_type = "sigmoid"
    if config.confidence_use == "label_smoothing":
        loss_type = "robust"
        smoothing = robust_label_smoothing(confidences, config.max_label_smoothing)
    args = DPOConfig(
        **trl_arguments(config, output_dir, seed),
        max_length=config.max_length,
        beta=config.beta,
        loss_type=[loss_type],
        label_smoothing=smoothing,
    )
    metrics = run_trl(DPOTrainer, args, data, config, confidences, output_dir, seed)
    return {**metrics, "loss_type": loss_type, "label_smoothing": smoothing}
