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
            "splits": {"weak": 0.34, "label": 0.33, "test": 0.33, "validation": 0.4},
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
    fractions = cfg.w2s.splits
    splits = split_questions(
        list(questions.values()), fractions.model_dump(), cfg.seed, fractions.validation
    )
    a, b, val, test = (
        set(ids) for ids in (splits.weak, splits.label, splits.validation, splits.test)
    )
    assert a and b and val and test
    assert len(a | b | val | test) == len(a) + len(b) + len(val) + len(test) == len(questions)
    assert result.splits == {
        "weak": len(a),
        "label": len(b),
        "validation": len(val),
        "test": len(test),
    }

    # the table, recomputed from what the stages stored: one row per label source, over the
    # test split, two seeds; validation scores against weak labels (students) or the key
    assert [r.source for r in result.rows] == [s.title for s in LABEL_SOURCES]
    key = {q: questions[q].correct_index for q in questions}
    runs = {r.output_path: r for r in store.all(TrainingRun)}
    ceilings = [r for r in runs.values() if r.method == "ceiling"]
    exp = store.require_experiment(cfg.name)
    assert exp.id is not None
    debates = {d.id: d for d in store.debates(exp.id)}
    trained = [j for j in store.all(Judgment) if j.judge_id.startswith("trained:")]

    def acc(probs: dict[str, list[float]], ids: set[str], target: dict[str, int]) -> float:
        return float(np.mean([probs[q][target[q]] > 0.5 for q in ids]))

    def weak_acc(judge_ids: list[str], protocol: str) -> float:
        per: dict[str, dict[str, list[list[float]]]] = {}
        for j in trained:
            d = debates[j.debate_id]
            if j.judge_id in judge_ids and d.protocol == protocol and d.question_id in test:
                per.setdefault(d.question_id, {}).setdefault(j.judge_id, []).append(j.probs)
        p = {
            q: np.mean([np.mean(v, axis=0) for v in by_judge.values()], axis=0).tolist()
            for q, by_judge in per.items()
        }
        assert set(p) == test
        return acc(p, test, key)

    for source, row in zip(LABEL_SOURCES, result.rows, strict=True):
        assert row.questions == len(test) and row.seeds == 2 and row.validation == len(val)
        members = result.details["judges"][source.variant]
        members = members if source.members is None else [members[i] for i in source.members]
        protocol = "direct" if source.variant == "plain" else "debate"
        assert row.weak == pytest.approx(weak_acc(members, protocol))
        set_name = result.details["label_sets"][source.key]
        students = [r for r in runs.values() if r.inputs.get("label_set") == set_name]
        assert len(students) == 2
        for value, group in ((row.transfer, students), (row.ceiling, ceilings)):
            assert value == pytest.approx(
                np.mean([acc(r.metrics["test_probs"], test, key) for r in group])
            )
        assert row.ceiling_val == pytest.approx(
            np.mean([acc(r.metrics["val_probs"], val, key) for r in ceilings])
        )
        labs = labels_of(store, set_name)
        assert {lab.question_id for lab in labs} == b | val  # all of B is weak-labelled
        weak_label = {lab.question_id: lab.hard for lab in labs}
        assert row.transfer_val == pytest.approx(
            np.mean([acc(r.metrics["val_probs"], val, weak_label) for r in students])
        )
        on_b = [lab for lab in labs if lab.question_id in b]
        assert row.labels == len(b)
        assert row.label_confidence == pytest.approx(np.mean([lab.confidence for lab in on_b]))
        assert row.label_accuracy == pytest.approx(
            np.mean([lab.hard == key[lab.question_id] for lab in on_b])
        )
        assert all(lab.confidence == max(lab.soft) for lab in labs)

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

    # their verdicts are stored judgments on B (validation included) and test only
    assert trained and {debates[j.debate_id].question_id for j in trained} == b | val | test

    # students: per seed, a ceiling and one run per label source, all on split B less its
    # validation part, which (like test) they only predict
    assert len(calls.student) == 2 * (1 + len(LABEL_SOURCES))
    for call in calls.student:
        assert set(call["question_ids"]) == b
        assert call["columns"] == ["question_id", "choice", "text", "labels"]
        run = runs[call["folder"]]
        assert set(run.metrics["val_probs"]) == val and set(run.metrics["test_probs"]) == test
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
        assert not set(r.inputs["train_question_ids"]) & (b | val | test)

    # outputs on disk: splits, results, per-stage training records
    assert (result.output_dir / "results.json").is_file()
    assert (result.output_dir / "splits.json").is_file()

    # a rerun trains nothing and reports the same numbers
    n_weak, n_student = len(calls.weak), len(calls.student)
    again = Pipeline(cfg, Store(cfg.store)).run()
    assert (len(calls.weak), len(calls.student)) == (n_weak, n_student)
    assert again.stages_run == 0 and again.stages_skipped == result.stages_run
    assert [r.as_json() for r in again.rows] == [r.as_json() for r in result.rows]
