"""The weak-to-strong pipeline: debates -> weak judges -> labels -> strong student -> PGR.

Stages, after ``openai/weak-to-strong`` and Lang, Huang & Li 2025:

1. run the experiment's debates (the ordinary runner; resumable);
2. split the questions, a group (same passage or dataset group id) at a time, by a hash of
   the group's key into A (weak training), B (labelling) and test, and carve a validation
   part out of B (``oversight.splits``);
3. train two weak ensembles on A's answer key: one reading question + answer, one also
   reading a debate transcript of the question; each member judges B and test, its verdicts
   stored as Judgment rows;
4. build a LabelSet on B (validation included) for each label source: a single weak model,
   the weak ensemble, the weak ensemble with debate, from the members that fitted (a member
   whose training loss stayed at the prior, ``oversight.train.fit``, is left out and
   reported; a source with no fit member is reported unavailable and trains nothing); and
   one per positive control, B's answer key with a known share flipped
   (``oversight.controls``), stored apart from every supervisor's labels;
5. train the strong student on each label set, and on B's answer key (the ceiling), for
   every seed, on B less its validation part; every run predicts validation (the score any
   setting is chosen by) and test (only ever predicted); report PGR with bootstrap intervals.

Every stage is a stored record (TrainingRun or LabelSet) named by a hash of its inputs and
settings; a rerun skips what exists. Who sees the answer key is explicit: the weak members
(split A only) and the ceiling (split B); each TrainingRun's ``inputs`` records its questions.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from oversight.backends.factory import make_backend
from oversight.controls import (
    FLIP_RULE,
    build_control_set,
    control_key,
    control_labels,
    control_title,
)
from oversight.labels import (
    LabelRequest,
    build_label_set,
    compute_labels,
    label_rows,
)
from oversight.metrics import correctness
from oversight.pipeline_config import PipelineConfig
from oversight.replay import record_ensemble
from oversight.report.w2s import PGRRow, pgr_row
from oversight.runner import BackendFactory, Runner, RunSummary
from oversight.splits import Splits, split_questions
from oversight.store import Experiment, JudgeKind, Question, Store, TrainingRun
from oversight.train.classifier import train_classifier
from oversight.train.config import ClassifierConfig, WeakEnsembleConfig
from oversight.train.fit import FIT_RULE, check_fit
from oversight.train.inputs import (
    DebateView,
    choice_probs,
    ground_truth_examples,
    label_examples,
    prediction_texts,
    question_row,
)
from oversight.train.transcripts import debate_views
from oversight.train.weak_judges import (
    JudgeTarget,
    judge_debates,
    train_weak_member,
    trained_judge_id,
)

log = logging.getLogger(__name__)

Notify = Callable[[str], None]

CEILING = "ceiling"


def _digest(obj: Any, n: int = 10) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()[:n]


@dataclass(frozen=True)
class WeakVariant:
    """One weak ensemble: what it reads and which protocol's rows it judges."""

    key: str
    protocol: str
    transcript: bool


@dataclass(frozen=True)
class LabelSource:
    """A weak supervisor whose verdicts become labels: the fit members of one variant."""

    key: str
    title: str
    variant: str
    single: bool = False
    """Only the first member that fitted (the lowest member index), not all of them."""

    def choose(self, fit_members: Sequence[str]) -> list[str]:
        """The judges whose verdicts this source aggregates, from the variant's fit members
        in member order."""
        return list(fit_members[:1]) if self.single else list(fit_members)


LABEL_SOURCES = (
    LabelSource("weak-single", "single weak model", "plain", single=True),
    LabelSource("weak-ensemble", "weak ensemble", "plain"),
    LabelSource("weak-ensemble-debate", "weak ensemble + debate", "debate"),
)


@dataclass(frozen=True)
class ControlSource:
    """A positive control: split B's answer key with a share ``rate`` of labels flipped."""

    rate: float

    @property
    def key(self) -> str:
        return control_key(self.rate)

    @property
    def title(self) -> str:
        return control_title(self.rate)


@dataclass(frozen=True)
class MemberFit:
    """One weak member's training, judged by ``oversight.train.fit.FIT_RULE``."""

    variant: str
    member: int
    judge_id: str
    final_loss: float | None
    prior_entropy: float | None
    fit: bool | None
    """``None`` for a run stored without the measurements (it is kept)."""
    step_losses: list[float]
    loss_curve: list[dict[str, float]]

    def as_json(self) -> dict[str, Any]:
        return {
            "variant": self.variant,
            "member": self.member,
            "judge_id": self.judge_id,
            "final_loss": self.final_loss,
            "prior_entropy": self.prior_entropy,
            "fit": self.fit,
            "step_losses": self.step_losses,
            "loss_curve": self.loss_curve,
        }


@dataclass
class PipelineResult:
    """What one pipeline run measured, and where it stored it."""

    experiment: str
    rows: list[PGRRow]
    splits: dict[str, int]
    debates: RunSummary | None
    stages_run: int
    stages_skipped: int
    wall_seconds: float
    output_dir: Path
    details: dict[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {
            "experiment": self.experiment,
            "rows": [r.as_json() for r in self.rows],
            "splits": self.splits,
            "stages_run": self.stages_run,
            "stages_skipped": self.stages_skipped,
            "wall_seconds": round(self.wall_seconds, 1),
            "details": self.details,
        }


class Pipeline:
    """Runs (or resumes) one weak-to-strong pipeline config against a Store."""

    def __init__(
        self,
        cfg: PipelineConfig,
        store: Store,
        *,
        backend_factory: BackendFactory = make_backend,
        notify: Notify | None = None,
        debate_progress: Callable[[int, int], None] | None = None,
    ) -> None:
        self.cfg = cfg
        self.store = store
        self._factory = backend_factory
        self._notify = notify or (lambda msg: log.info("%s", msg))
        self._debate_progress = debate_progress
        self.out = cfg.output_path()
        self.variants = {
            "plain": WeakVariant("plain", cfg.w2s.direct_protocol, transcript=False),
            "debate": WeakVariant("debate", cfg.w2s.debate_protocol, transcript=True),
        }
        self.controls = [ControlSource(rate) for rate in cfg.w2s.controls]
        self.members: dict[str, list[MemberFit]] = {}
        """variant -> its members' fit checks, filled by :meth:`train_weak`."""
        self.stages_run = 0
        self.stages_skipped = 0

    # -- stage bookkeeping -----------------------------------------------------------------

    def _stage(
        self,
        experiment: Experiment,
        name: str,
        method: str,
        inputs: dict[str, Any],
        config: dict[str, Any],
        work: Callable[[Path], dict[str, Any]],
    ) -> TrainingRun:
        """Run ``work`` once per stage name; the TrainingRun row is written when it finished.

        The row is inserted only after the work completed, so its existence means "done":
        a crash mid-stage leaves no row and the rerun redoes that stage from scratch.
        """
        found = self.store.first(TrainingRun, TrainingRun.name == name)
        if found is not None:
            self.stages_skipped += 1
            return found
        folder = self.out / name.removeprefix(f"{self.cfg.name}/")
        self._notify(f"stage {name}")
        start = time.perf_counter()
        metrics = work(folder)
        metrics["stage_seconds"] = round(time.perf_counter() - start, 2)
        self.store.insert_ignore(
            [
                TrainingRun(
                    name=name,
                    experiment_id=experiment.id,
                    method=method,
                    inputs=inputs,
                    config=config,
                    output_path=str(folder),
                    metrics=metrics,
                    status="complete",
                )
            ]
        )
        self.stages_run += 1
        stored = self.store.first(TrainingRun, TrainingRun.name == name)
        assert stored is not None
        return stored

    # -- stages ----------------------------------------------------------------------------

    def run_debates(self) -> tuple[Experiment, list[Question], RunSummary]:
        """Stage 1: the experiment's debates, direct rows and prompted judges (resumable)."""
        runner = Runner(self.cfg.debate_config(), self.store, backend_factory=self._factory)
        self._notify(f"debates of {self.cfg.name}")
        summary = asyncio.run(runner.run(self._debate_progress))
        assert runner.prepared is not None
        return runner.prepared.experiment, runner.prepared.questions, summary

    def weak_config(self, variant: WeakVariant) -> WeakEnsembleConfig:
        weak = self.cfg.w2s.weak
        inputs = weak.inputs.model_copy(update={"transcript": variant.transcript})
        return weak.model_copy(update={"inputs": inputs})

    def train_weak(
        self,
        exp: Experiment,
        questions: Mapping[str, Question],
        splits: Splits,
        variant: WeakVariant,
    ) -> list[str]:
        """Stage 3: the K members of one weak ensemble; returns their judge ids."""
        assert exp.id is not None
        config = self.weak_config(variant)
        judged = splits.labelled + splits.test
        train_views: dict[str, list[DebateView]] | None = None
        judge_views: dict[str, list[DebateView]] = {}
        train_ids = list(splits.weak)
        if variant.transcript:
            train_views = debate_views(self.store, exp.id, variant.protocol, splits.weak)
            train_ids = [q for q in splits.weak if q in train_views]
            judge_views = debate_views(self.store, exp.id, variant.protocol, judged)
        targets = self._judge_targets(exp, variant, judged, judge_views)
        judge_ids = []
        fits: list[MemberFit] = []
        for k in range(config.members):
            seed = self.cfg.seed * 1000 + k
            key = {
                "config": config.model_dump(mode="json"),
                "seed": seed,
                "train": _digest(train_ids),
                "judged": _digest(judged),
            }
            name = f"{self.cfg.name}/weak-{variant.key}/m{k}-{_digest(key, 8)}"
            judge_id = trained_judge_id(name)
            judge_ids.append(judge_id)

            def work(folder: Path, seed: int = seed, judge_id: str = judge_id) -> dict[str, Any]:
                train_qs = [questions[q] for q in train_ids]
                member = train_weak_member(config, train_qs, folder, seed, train_views)
                rows = judge_debates(member, judge_id, questions, targets)
                self.store.insert_ignore(rows)
                return {**member.metrics, "judgments": len(rows)}

            run = self._stage(
                exp,
                name,
                "weak-judge",
                inputs={
                    "split": "weak",
                    "ground_truth": True,
                    "train_question_ids": train_ids,
                    "judged_question_ids": judged,
                    "protocol": variant.protocol,
                },
                config={**config.model_dump(mode="json"), "seed": seed, "judge_id": judge_id},
                work=work,
            )
            fits.append(self._member_fit(variant.key, k, judge_id, run.metrics))
        self.members[variant.key] = fits
        record_ensemble(
            self.store,
            self.cfg.name,
            f"weak-{variant.key}",
            [
                {
                    "judge_id": j,
                    "member": k,
                    "protocol": variant.protocol,
                    "transcript": variant.transcript,
                }
                for k, j in enumerate(judge_ids)
            ],
            JudgeKind.TRAINED,
        )
        return judge_ids

    def _member_fit(
        self, variant: str, member: int, judge_id: str, metrics: Mapping[str, Any]
    ) -> MemberFit:
        """The fit check of one stored member run, under this config's tolerance (so a new
        tolerance re-judges stored runs without retraining them)."""
        loss, prior = metrics.get("final_epoch_loss"), metrics.get("prior_entropy")
        fit = None
        if loss is not None and prior is not None:
            fit = check_fit(float(loss), float(prior), self.cfg.w2s.unfit_tolerance).fit
        return MemberFit(
            variant,
            member,
            judge_id,
            loss,
            prior,
            fit,
            list(metrics.get("step_losses", [])),
            list(metrics.get("loss_curve", [])),
        )

    def fit_members(self, variant: str) -> list[str]:
        """The judge ids of a variant's members that fitted (or were not measured)."""
        return [m.judge_id for m in self.members[variant] if m.fit is not False]

    def _judge_targets(
        self,
        exp: Experiment,
        variant: WeakVariant,
        question_ids: Sequence[str],
        views: Mapping[str, Sequence[DebateView]],
    ) -> list[JudgeTarget]:
        if variant.transcript:
            return [
                JudgeTarget(v.debate_id, v.question_id, v)
                for q in question_ids
                for v in views.get(q, ())
            ]
        assert exp.id is not None
        wanted = set(question_ids)
        rows = self.store.debates(exp.id, protocol=variant.protocol)
        return [JudgeTarget(d.id, d.question_id) for d in rows if d.question_id in wanted]

    def unavailable(self) -> dict[str, str]:
        """Label sources with no fit member -> why: they produce no labels and no students."""
        out = {}
        for source in LABEL_SOURCES:
            if not source.choose(self.fit_members(source.variant)):
                n = len(self.members[source.variant])
                out[source.key] = (
                    f"{source.title}: unavailable, all {n} members of weak-{source.variant} "
                    "are unfit"
                )
        return out

    def build_labels(
        self, exp: Experiment, questions: Mapping[str, Question], splits: Splits
    ) -> tuple[dict[str, str], dict[str, set[str]]]:
        """Stage 4: one LabelSet on split B (validation included) per available label source
        and per control.

        Returns source -> set name, and source -> the questions whose label was exactly
        tied (its hard label drawn by the coin), which the stored rows cannot tell apart.
        A supervisor's set aggregates its fit members' judgments only; a control's set is
        built from the key (``oversight.controls``) and no judgment enters it.
        """
        assert exp.id is not None
        out, ties = {}, {}
        skip = self.unavailable()
        for source in LABEL_SOURCES:
            if source.key in skip:
                continue
            request = self._label_request(source, splits.labelled, self.cfg.w2s.min_confidence)
            name = f"{self.cfg.name}/labels/{source.key}-{_digest(request.params(), 8)}"
            build_label_set(self.store, self.cfg.name, request, name=name)
            out[source.key] = name
            computed = compute_labels(self.store, exp, request)
            ties[source.key] = {q for q, agg in computed.items() if agg.tied}
        for control in self.controls:
            labels = control_labels(
                questions, [splits.label, splits.validation], control.rate, self.cfg.seed
            )
            name = f"{self.cfg.name}/labels/{control.key}-{_digest(labels.params(), 8)}"
            build_control_set(self.store, exp.id, name, labels)
            out[control.key] = name
            ties[control.key] = set()
        return out, ties

    def _label_request(
        self,
        source: LabelSource,
        question_ids: Sequence[str],
        min_confidence: float,
    ) -> LabelRequest:
        chosen = source.choose(self.fit_members(source.variant))
        return LabelRequest(
            method=self.cfg.w2s.label_method,
            min_confidence=min_confidence,
            protocol=self.variants[source.variant].protocol,
            judges=tuple(chosen),
            question_ids=tuple(question_ids),
            tie_seed=self.cfg.seed,
        )

    def train_student(
        self,
        exp: Experiment,
        questions: Mapping[str, Question],
        splits: Splits,
        source: str,
        label_set: str | None,
        seed: int,
        views: Mapping[str, Sequence[DebateView]] | None,
    ) -> TrainingRun:
        """Stage 5: the strong student on one label set (or, for the ceiling, B's answer key).

        Both train on split B less its validation part and predict validation and test; no
        answer key is read here for either. The ceiling always trains with ``xent``, as in
        openai/weak-to-strong: the configured loss (``logconf``, ``product``) is a remedy for
        imperfect labels, not for the key.
        """
        config: ClassifierConfig = self.cfg.w2s.strong
        if label_set is None:
            config = config.model_copy(update={"loss": "xent"})
        trained_on = set(splits.label)
        labels = (
            [r for r in label_rows(self.store, label_set) if r["question_id"] in trained_on]
            if label_set is not None
            else None
        )
        train_ids = [r["question_id"] for r in labels] if labels is not None else list(splits.label)
        key = {
            "config": config.model_dump(mode="json"),
            "seed": seed,
            "labels": label_set,
            "train": _digest(train_ids),
            "validation": _digest(splits.validation),
            "test": _digest(splits.test),
        }
        name = f"{self.cfg.name}/student/{source}/s{seed}-{_digest(key, 8)}"

        def work(folder: Path) -> dict[str, Any]:
            if labels is not None:
                examples = label_examples(labels, config.inputs, views, seed=seed)
            else:
                gold = [questions[q] for q in splits.label]
                examples = ground_truth_examples(gold, config.inputs, views, seed=seed)
            student = train_classifier(config, examples, folder, seed)
            predicted = self._predict(
                student.predict, questions, splits.validation + splits.test, config, views
            )
            val = {q: predicted[q] for q in splits.validation}
            test = {q: predicted[q] for q in splits.test}
            (folder / "test_predictions.json").write_text(json.dumps(test, indent=1))
            (folder / "validation_predictions.json").write_text(json.dumps(val, indent=1))
            return {**student.metrics, "val_probs": val, "test_probs": test}

        return self._stage(
            exp,
            name,
            "student" if label_set is not None else "ceiling",
            inputs={
                "split": "label",
                "label_set": label_set,
                "ground_truth": label_set is None,
                "train_question_ids": train_ids,
                "validation_question_ids": splits.validation,
                "test_question_ids": splits.test,
            },
            config={**config.model_dump(mode="json"), "seed": seed},
            work=work,
        )

    @staticmethod
    def _predict(
        predict: Callable[[Sequence[str]], np.ndarray],
        questions: Mapping[str, Question],
        test_ids: Sequence[str],
        config: ClassifierConfig,
        views: Mapping[str, Sequence[DebateView]] | None,
    ) -> dict[str, list[float]]:
        """Per question, the student's probability per choice (no answer key involved)."""
        texts: list[str] = []
        for q in test_ids:
            view = (views or {}).get(q, [None])[0] if config.inputs.transcript else None
            texts += prediction_texts(question_row(questions[q]), config.inputs, view)
        scores = predict(texts) if texts else np.zeros(0)
        return {
            q: choice_probs([float(scores[2 * i]), float(scores[2 * i + 1])])
            for i, q in enumerate(test_ids)
        }

    # -- evaluation ------------------------------------------------------------------------

    def evaluate(
        self,
        exp: Experiment,
        questions: Mapping[str, Question],
        splits: Splits,
        label_sets: Mapping[str, str],
        label_ties: Mapping[str, set[str]],
        students: Mapping[str, list[TrainingRun]],
    ) -> list[PGRRow]:
        """PGR rows on the test split, with validation scores; the answer key is read here,
        after all training, and test only scores (nothing is chosen by it).

        One row per available supervisor, then one per control. A supervisor's weak
        accuracy is its fit members' aggregated verdicts on test; a control's is its labels'
        accuracy on the questions the students trained on, known by construction
        (:data:`oversight.controls.FLIP_RULE`), given to every test question alike so that
        its interval has no width and the PGR interval reflects student and ceiling only."""
        ceilings = students[CEILING]
        key = {q: questions[q].correct_index for q in questions}

        def correct(
            probs: Mapping[str, Sequence[float]], ids: Sequence[str], target: Mapping[str, int]
        ) -> list[float]:
            return correctness([probs[q][target[q]] for q in ids]).tolist()

        def val_score(runs: Sequence[TrainingRun], target: Mapping[str, int]) -> float:
            ids = sorted(target)
            if not ids:
                return math.nan
            return float(
                np.mean([np.mean(correct(r.metrics["val_probs"], ids, target)) for r in runs])
            )

        in_label, in_val = set(splits.label), set(splits.validation)
        ceiling_val = val_score(ceilings, {q: key[q] for q in splits.validation})
        rows = []
        sources: list[LabelSource | ControlSource] = [
            s for s in LABEL_SOURCES if s.key in label_sets
        ]
        sources += self.controls
        for source in sources:
            labels = label_rows(self.store, label_sets[source.key])
            trained_on = [r for r in labels if r["question_id"] in in_label]
            label_acc = (
                float(np.mean([r["hard"] == key[r["question_id"]] for r in trained_on]))
                if trained_on
                else math.nan
            )
            on_test = [
                q for q in splits.test if all(q in r.metrics["test_probs"] for r in ceilings)
            ]
            if isinstance(source, LabelSource):
                request = self._label_request(source, splits.test, 0.0)
                weak_preds = compute_labels(self.store, exp, request)
                test_ids = [q for q in on_test if q in weak_preds]
                weak_correct = correct({q: weak_preds[q].soft for q in test_ids}, test_ids, key)
            else:
                test_ids = on_test
                weak_correct = [label_acc] * len(test_ids)
            weak_val = {
                r["question_id"]: int(r["hard"]) for r in labels if r["question_id"] in in_val
            }
            rows.append(
                pgr_row(
                    source.title,
                    weak_correct,
                    [correct(r.metrics["test_probs"], test_ids, key) for r in students[source.key]],
                    [correct(r.metrics["test_probs"], test_ids, key) for r in ceilings],
                    n_resamples=self.cfg.w2s.bootstrap,
                    seed=self.cfg.seed,
                    label_accuracy=label_acc,
                    labels=len(trained_on),
                    label_confidence=(
                        float(np.mean([r["confidence"] for r in trained_on]))
                        if trained_on
                        else math.nan
                    ),
                    label_ties=len(label_ties[source.key] & in_label),
                    validation=len(splits.validation),
                    transfer_val=val_score(students[source.key], weak_val),
                    ceiling_val=ceiling_val,
                )
            )
        return rows

    # -- everything ------------------------------------------------------------------------

    def run(self) -> PipelineResult:
        start = time.perf_counter()
        exp, question_list, summary = self.run_debates()
        assert exp.id is not None
        questions = {q.id: q for q in question_list}
        fractions = self.cfg.w2s.splits
        splits = split_questions(
            question_list, fractions.model_dump(), self.cfg.seed, fractions.validation
        )
        self.out.mkdir(parents=True, exist_ok=True)
        (self.out / "splits.json").write_text(json.dumps(splits.as_json(), indent=1))
        judges = {
            key: self.train_weak(exp, questions, splits, variant)
            for key, variant in self.variants.items()
        }
        label_sets, label_ties = self.build_labels(exp, questions, splits)
        views = None
        if self.cfg.w2s.strong.inputs.transcript:
            views = debate_views(self.store, exp.id, self.cfg.w2s.debate_protocol)
        students: dict[str, list[TrainingRun]] = {key: [] for key in label_sets}
        students[CEILING] = []
        for seed in self.cfg.w2s.seeds:
            students[CEILING].append(
                self.train_student(exp, questions, splits, CEILING, None, seed, views)
            )
            for key, label_set in label_sets.items():
                students[key].append(
                    self.train_student(exp, questions, splits, key, label_set, seed, views)
                )
        rows = self.evaluate(exp, questions, splits, label_sets, label_ties, students)
        unavailable = self.unavailable()
        for reason in unavailable.values():
            self._notify(reason)
        result = PipelineResult(
            experiment=self.cfg.name,
            rows=rows,
            splits=splits.sizes(),
            debates=summary,
            stages_run=self.stages_run,
            stages_skipped=self.stages_skipped,
            wall_seconds=time.perf_counter() - start,
            output_dir=self.out,
            details={
                "label_sets": dict(label_sets),
                "judges": {k: list(v) for k, v in judges.items()},
                "members": {k: [m.as_json() for m in v] for k, v in self.members.items()},
                "excluded": {
                    k: [m.judge_id for m in v if m.fit is False] for k, v in self.members.items()
                },
                "unavailable": unavailable,
                "controls": {
                    c.key: {"title": c.title, "flip_rate": c.rate, "label_set": label_sets[c.key]}
                    for c in self.controls
                },
                "rules": {"fit": FIT_RULE, "control": FLIP_RULE},
                "unfit_tolerance": self.cfg.w2s.unfit_tolerance,
            },
        )
        (self.out / "results.json").write_text(json.dumps(result.as_json(), indent=1))
        return result
