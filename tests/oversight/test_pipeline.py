"""The weak-to-strong pipeline end to end on tiny offline models.

What each trainer received is recorded by wrapping ``train_classifier`` where the weak judges
and the student call it, so the tests check the split discipline on the data itself: weak
models only ever see split A's answer key, students only ever see labels (the ceiling alone
sees split B's key), and a rerun trains nothing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from oversight import pipeline as pipeline_module
from oversight.config import ConfigError
from oversight.labels import labels_of
from oversight.pipeline import LABEL_SOURCES, Pipeline
from oversight.pipeline_config import PipelineConfig, parse_pipeline_config
from oversight.splits import split_questions
from oversight.store import Judgment, LabelSet, Store, TrainingRun
from oversight.train import weak_judges as weak_module


def pipeline_config(chat: Path, bert: Path, tmp_path: Path, **w2s: Any) -> PipelineConfig:
    gen = {"max_new_tokens": 6, "temperature": 0.0}
    fast = {
        "max_steps": 3,
        "batch_size": 8,
        "max_length": 64,
        "save_model": False,
        "learning_rate": 1e-3,
    }
    data: dict[str, Any] = {
        "name": "w2s-tiny",
        "seed": 0,
        "store": f"sqlite:///{tmp_path / 'store.db'}",
        "concurrency": 8,
        "data": {"source": "arc", "split": "test", "limit": 24},
        "models": {"m": {"model": str(chat), "max_batch_size": 16}},
        "protocols": {
            "debate": {
                "kind": "debate",
                "model": "m",
                "rounds": 1,
                "swap": True,
                "generation": gen,
            },
            "direct": {"kind": "direct"},
        },
        "judges": [{"name": "judge", "model": "m"}],
        "w2s": {
            "output_dir": str(tmp_path / "runs"),
            "seeds": [0, 1],
            "splits": {"weak": 0.34, "label": 0.33, "test": 0.33},
            "bootstrap": 200,
            "weak": {"model": str(bert), "members": 2, **fast},
            "strong": {"model": str(chat), "loss": "logconf", **fast},
            **w2s,
        },
    }
    return parse_pipeline_config(data, "test")


class Calls:
    """Every ``train_classifier`` call: who called, where it writes, and the dataset."""

    def __init__(self) -> None:
        self.weak: list[dict[str, Any]] = []
        self.student: list[dict[str, Any]] = []

    def wrap(self, real: Any, into: list[dict[str, Any]]) -> Any:
        def spy(config: Any, train: Any, output_dir: Path, seed: int) -> Any:
            into.append(
                {
                    "folder": str(output_dir),
                    "question_ids": list(train["question_id"]),
                    "labels": list(train["labels"]),
                    "text": list(train["text"]),
                    "columns": list(train.column_names),
                }
            )
            return real(config, train, output_dir, seed)

        return spy


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> Calls:
    rec = Calls()
    monkeypatch.setattr(
        weak_module, "train_classifier", rec.wrap(weak_module.train_classifier, rec.weak)
    )
    monkeypatch.setattr(
        pipeline_module, "train_classifier", rec.wrap(pipeline_module.train_classifier, rec.student)
    )
    return rec


def test_split_is_a_function_of_each_question_alone() -> None:
    ids = [f"q{i}" for i in range(300)]
    full = split_questions(ids, {"weak": 0.3, "label": 0.4, "test": 0.3}, seed=0)
    part = split_questions(ids[:100], {"weak": 0.3, "label": 0.4, "test": 0.3}, seed=0)
    assert set(part.weak) <= set(full.weak) and set(part.test) <= set(full.test)
    assert sorted(full.weak + full.label + full.test) == sorted(ids)
    assert 60 < len(full.label) < 180


def test_config_names_its_protocols(tiny_chat_model: Path, tiny_bert: Path, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"w2s.debate_protocol"):
        pipeline_config(tiny_chat_model, tiny_bert, tmp_path, debate_protocol="direct")
    with pytest.raises(ConfigError, match="sum to 1"):
        pipeline_config(
            tiny_chat_model, tiny_bert, tmp_path, splits={"weak": 0.5, "label": 0.5, "test": 0.5}
        )


def test_pipeline_end_to_end_respects_the_splits_and_resumes(
    tiny_chat_model: Path, tiny_bert: Path, tmp_path: Path, calls: Calls
) -> None:
    cfg = pipeline_config(tiny_chat_model, tiny_bert, tmp_path)
    store = Store(cfg.store)
    result = Pipeline(cfg, store).run()
    questions = {q.id: q for q in store.all(pipeline_module.Question)}
    splits = split_questions(list(questions), cfg.w2s.splits.model_dump(), cfg.seed)
    a, b, test = set(splits.weak), set(splits.label), set(splits.test)
    assert a and b and test and not (a & b or a & test or b & test)

    # the table: one row per label source, over the test split, two seeds
    assert [r.source for r in result.rows] == [s.title for s in LABEL_SOURCES]
    for row in result.rows:
        assert row.questions == len(test) and row.seeds == 2
        for acc in (row.weak, row.transfer, row.ceiling):
            assert 0.0 <= acc <= 1.0
        assert row.labels == len(b)
    for source, row in zip(LABEL_SOURCES, result.rows, strict=True):
        labs = labels_of(store, result.details["label_sets"][source.key])
        assert row.label_confidence == pytest.approx(np.mean([lab.confidence for lab in labs]))
        assert 0.5 <= row.label_confidence <= 1.0

    # weak judges: 2 variants x 2 members, each trained on split A's answer key only
    assert len(calls.weak) == 4
    for call in calls.weak:
        assert set(call["question_ids"]) <= a
        for qid, choice_labels in zip(call["question_ids"][::2], call["labels"][::2], strict=True):
            assert choice_labels == (
                [0.0, 1.0] if questions[qid].correct_index == 0 else [1.0, 0.0]
            )
    with_debate = [c for c in calls.weak if "weak-debate" in c["folder"]]
    assert len(with_debate) == 2 and all("Debate:\nRound 1" in c["text"][0] for c in with_debate)

    # their verdicts are stored judgments on B and test only
    trained = [j for j in store.all(Judgment) if j.judge_id.startswith("trained:")]
    exp = store.require_experiment(cfg.name)
    assert exp.id is not None
    debates = {d.id: d for d in store.debates(exp.id)}
    assert trained and {debates[j.debate_id].question_id for j in trained} <= b | test

    # students: per seed, a ceiling and one run per label source, all on split B
    assert len(calls.student) == 2 * (1 + len(LABEL_SOURCES))
    runs = {r.output_path: r for r in store.all(TrainingRun)}
    for call in calls.student:
        assert set(call["question_ids"]) <= b
        assert call["columns"] == ["question_id", "choice", "text", "labels"]
        run = runs[call["folder"]]
        if run.method == "ceiling":
            assert run.inputs["ground_truth"] is True
            assert run.config["loss"] == "xent"  # the configured logconf is for weak labels
            continue
        assert run.inputs["ground_truth"] is False
        assert run.config["loss"] == "logconf"
        # the targets are exactly the label set's soft labels, never the key
        label_set = store.first(LabelSet, LabelSet.name == run.inputs["label_set"])
        assert label_set is not None
        soft = {lab.question_id: lab.soft for lab in labels_of(store, label_set.name)}
        for qid, target in zip(call["question_ids"][::2], call["labels"][::2], strict=True):
            assert target == pytest.approx([1 - soft[qid][0], soft[qid][0]])
    weak_runs = [r for r in runs.values() if r.method == "weak-judge"]
    assert len(weak_runs) == 4
    for r in weak_runs:
        assert set(r.inputs["train_question_ids"]) <= a
        assert not set(r.inputs["train_question_ids"]) & (b | test)

    # outputs on disk: splits, results, per-stage training records
    assert (result.output_dir / "results.json").is_file()
    assert (result.output_dir / "splits.json").is_file()

    # a rerun trains nothing and reports the same numbers
    n_weak, n_student = len(calls.weak), len(calls.student)
    again = Pipeline(cfg, Store(cfg.store)).run()
    assert (len(calls.weak), len(calls.student)) == (n_weak, n_student)
    assert again.stages_run == 0 and again.stages_skipped == result.stages_run
    assert [r.as_json() for r in again.rows] == [r.as_json() for r in result.rows]
