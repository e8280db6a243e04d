"""The ``hf`` export: a Hugging Face ``datasets.Dataset`` with one row per debate, saved to disk.

Rows are the :mod:`records <oversight.transcripts.records>` flattened for training code:
question fields are columns, turns and judgments are lists of structs (so
``row["judgments"][0]["probs"]`` is a list of floats), and the free-form dictionaries
(assignment, quotes, raw judge output, per-order probabilities, configs) are JSON strings,
since Arrow needs one schema for every row. Load it with ``datasets.load_from_disk``.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
from pathlib import Path
from typing import Any

from oversight.store import Store
from oversight.transcripts.records import FORMAT, experiment_records


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def features() -> Any:
    """The dataset schema, fixed so that every export (even an empty one) has the same columns."""
    from datasets import Features, Sequence, Value

    turn = {
        "id": Value("int64"),
        "round": Value("int32"),
        "speaker": Value("string"),
        "model": Value("string"),
        "text": Value("string"),
        "quotes": Value("string"),
        "prompt_tokens": Value("int64"),
        "completion_tokens": Value("int64"),
        "latency_s": Value("float64"),
        "created": Value("string"),
    }
    judgment = {
        "id": Value("int64"),
        "judge_id": Value("string"),
        "kind": Value("string"),
        "model": Value("string"),
        "after_round": Value("int32"),
        "probs": Sequence(Value("float64")),
        "probs_by_order": Value("string"),
        "raw": Value("string"),
        "created": Value("string"),
    }
    return Features(
        {
            "format": Value("string"),
            "experiment": Value("string"),
            "experiment_record": Value("string"),
            "debate_id": Value("string"),
            "protocol": Value("string"),
            "key": Value("string"),
            "assignment": Value("string"),
            "rounds": Value("int32"),
            "seed": Value("int64"),
            "status": Value("string"),
            "error": Value("string"),
            "created": Value("string"),
            "question_id": Value("string"),
            "dataset": Value("string"),
            "split": Value("string"),
            "question": Value("string"),
            "context": Value("string"),
            "choices": Sequence(Value("string")),
            "correct_index": Value("int32"),
            "source_id": Value("string"),
            "question_meta": Value("string"),
            "turns": [turn],
            "judgments": [judgment],
        }
    )


def record_row(record: dict[str, Any]) -> dict[str, Any]:
    """One dataset row from one transcript record."""
    q, d = record["question"], record["debate"]
    return {
        "format": FORMAT,
        "experiment": record["experiment"]["name"],
        "experiment_record": _json(record["experiment"]),
        "debate_id": d["id"],
        "protocol": d["protocol"],
        "key": d["key"],
        "assignment": _json(d["assignment"]),
        "rounds": d["rounds"],
        "seed": d["seed"],
        "status": d["status"],
        "error": d["error"],
        "created": d["created"],
        "question_id": q["id"],
        "dataset": q["dataset"],
        "split": q["split"],
        "question": q["text"],
        "context": q["context"],
        "choices": q["choices"],
        "correct_index": q["correct_index"],
        "source_id": q["source_id"],
        "question_meta": _json(q["meta"]),
        "turns": [{**t, "quotes": _json(t["quotes"])} for t in record["turns"]],
        "judgments": [
            {**j, "probs_by_order": _json(j["probs_by_order"]), "raw": _json(j["raw"])}
            for j in record["judgments"]
        ],
    }


def export_hf(store: Store, experiment: str, out: Path) -> int:
    """Save the experiment's debates as a dataset folder at ``out``; returns the row count.

    The dataset is saved to a temporary folder beside ``out`` and renamed into place once
    complete; a previous export at ``out`` is removed only after that, so a failed export
    leaves it untouched.
    """
    from datasets import Dataset

    rows = [record_row(r) for r in experiment_records(store, experiment)]
    dataset = Dataset.from_list(rows, features=features())
    out.parent.mkdir(parents=True, exist_ok=True)
    token = secrets.token_hex(4)
    tmp = out.with_name(f".{out.name}.{token}.tmp")
    old = out.with_name(f".{out.name}.{token}.old")
    try:
        dataset.save_to_disk(str(tmp))
        if out.is_dir() and not out.is_symlink():
            os.replace(out, old)  # a folder cannot be replaced in one step
        try:
            os.replace(tmp, out)
        except OSError:
            if old.exists():
                os.replace(old, out)
            raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    shutil.rmtree(old, ignore_errors=True)
    return len(rows)
