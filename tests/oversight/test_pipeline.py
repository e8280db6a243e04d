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
            "weak": {
                "model": str(bert),
                "members": 2,
                **fast,
                "max_steps": 24,
                "learning_rate": 5e-3,
            },
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
    titles = ["control: key with 20% flipped", "control: key with 35% flipped"]
    assert [r.source for r in result.rows] == [s.title for s in LABEL_SOURCES] + titles
    assert result.details["unavailable"] == {} and all(
        m["fit"] for ms in result.details["members"].values() for m in ms
    )
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

    for source, row in zip(LABEL_SOURCES, result.rows[:3], strict=True):
        assert row.questions == len(test) and row.seeds == 2 and row.validation == len(val)
        members = result.details["judges"][source.variant]
        members = members[:1] if source.single else members
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
        # a supervisor's set holds its judges' verdicts only: no control label reaches it
        ls = store.first(LabelSet, LabelSet.name == set_name)
        assert ls is not None and ls.method == "mean"
        assert ls.params["judges"] == sorted(members)
        assert all(lab.n_judges == len(members) for lab in labs)

    # controls: the key with exactly round-half-up(rate * n) flipped on the trained-on part
    for rate, row in zip((0.2, 0.35), result.rows[3:], strict=True):
        control = result.details["controls"][f"control-{100 * rate:g}"]
        labs = labels_of(store, control["label_set"])
        assert all(lab.n_judges == 0 for lab in labs)
        assert {lab.question_id for lab in labs} == b | val
        wrong = [lab for lab in labs if lab.question_id in b and lab.hard != key[lab.question_id]]
        assert len(wrong) == int(rate * len(b) + 0.5)
        assert row.label_accuracy == pytest.approx(1 - len(wrong) / len(b)) == row.weak
        assert row.weak_ci == (row.weak, row.weak)  # known by construction
    supervisor_sets = {result.details["label_sets"][s.key] for s in LABEL_SOURCES}
    control_sets = {c["label_set"] for c in result.details["controls"].values()}
    assert not supervisor_sets & control_sets

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
    assert len(calls.student) == 2 * (1 + len(LABEL_SOURCES) + 2)
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
        # the targets are exactly the label set's soft labels (a control's set: its flipped key)
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


def test_unfit_members_are_excluded_and_a_source_without_any_is_unavailable(
    tiny_chat_model: Path, tiny_bert: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Forced fault: weak-plain member 1 and every weak-debate member train with a learning
    rate of 1e-12, so their loss stays at ln 2; the real trainer runs for all of them."""
    real = weak_module.train_classifier

    def faulty(config: Any, train: Any, output_dir: Path, seed: int) -> Any:
        if "weak-debate" in str(output_dir) or str(output_dir).split("/")[-1].startswith("m1"):
            config = config.model_copy(update={"learning_rate": 1e-12})
        return real(config, train, output_dir, seed)

    monkeypatch.setattr(weak_module, "train_classifier", faulty)
    cfg = pipeline_config(tiny_chat_model, tiny_bert, tmp_path, seeds=[0], controls=[0.2])
    store = Store(cfg.store)
    result = Pipeline(cfg, store).run()
    fits = {v: [m["fit"] for m in ms] for v, ms in result.details["members"].items()}
    assert fits == {"plain": [True, False], "debate": [False, False]}
    judges = result.details["judges"]
    assert result.details["excluded"] == {"plain": [judges["plain"][1]], "debate": judges["debate"]}
    assert set(result.details["unavailable"]) == {"weak-ensemble-debate"}
    assert (
        "unavailable, all 2 members of weak-debate are unfit"
        in (result.details["unavailable"]["weak-ensemble-debate"])
    )
    assert [r.source for r in result.rows] == [
        "single weak model",
        "weak ensemble",
        "control: key with 20% flipped",
    ]
    ensemble = store.first(LabelSet, LabelSet.name == result.details["label_sets"]["weak-ensemble"])
    assert ensemble is not None and ensemble.params["judges"] == [judges["plain"][0]]
    assert "weak-ensemble-debate" not in result.details["label_sets"]
    for m in result.details["members"]["debate"]:
        assert m["final_loss"] == pytest.approx(m["prior_entropy"], abs=1e-6)
        assert len(m["step_losses"]) == 24
