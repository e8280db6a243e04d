"""The weak / ceiling / transfer / PGR table of an experiment, rebuilt from its stored runs.

``oversight pipeline`` prints this table when it finishes; a report must show it again later
from the Store alone (the source of truth), without the pipeline config. It is rebuilt as
the pipeline evaluates it (``Pipeline.evaluate``):

- a student run (``TrainingRun.method == "student"``) names the label set it trained on and
  its test questions, and stores its test predictions; a ceiling run
  (``method == "ceiling"``) trained on the labelling split's answer key, on the same test
  questions;
- the weak supervisor of a label set is the same aggregation of the same judges (the label
  set's params: method, protocol, judges) over the test questions, without a confidence
  filter;
- students and ceilings are paired by seed (a seed without its partner is left out) and
  compared on the test questions that the weak supervisor, every student and every ceiling
  answered; PGR and its paired bootstrap interval are :func:`oversight.report.w2s.pgr_row`,
  with the experiment's seed and 2000 resamples;
- the label columns describe the labels the students trained on (their
  ``train_question_ids``: a label set's validation questions are not among them).

A control's label set (``oversight.controls``) has no judges: its weak accuracy is its
labels' accuracy on the questions the students trained on, as the pipeline reports it.

The columns the pipeline prints about validation and label ties are not rebuilt here.
"""

from __future__ import annotations

import json
import math
from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from oversight.controls import control_title, is_control
from oversight.labels import (
    LabelRequest,
    compute_labels,
    labels_of,
    questions_by_id,
)
from oversight.metrics import correctness
from oversight.report.w2s import PGRRow, pgr_row
from oversight.store import Experiment, LabelSet, Question, Store, TrainingRun

PGR_RULES = (
    "PGR = (transfer - weak) / (ceiling - weak) (Burns et al. 2023), n/a where the ceiling "
    "does not beat the weak supervisor. Accuracies on the test questions every model answered; "
    "transfer and ceiling are means over student seeds (students and ceilings paired by seed); "
    "95% paired bootstrap over test questions (2000 resamples, the experiment's seed); the "
    "weak supervisor is the label set's aggregation of the same judges on the test questions. "
    "Labels, label accuracy and confidence: the labels the students trained on."
)


def _setting(config: Mapping[str, Any], drop: Sequence[str]) -> str:
    return json.dumps({k: v for k, v in config.items() if k not in drop}, sort_keys=True)


def source_name(label_set: str, experiment: str) -> str:
    """``weak-ensemble`` for ``EXP/labels/weak-ensemble-1a2b3c4d``; else the set's name."""
    rest = label_set.removeprefix(f"{experiment}/labels/")
    if rest == label_set or "-" not in rest:
        return label_set
    return rest.rsplit("-", 1)[0]


def _correct(
    probs: Mapping[str, Sequence[float]], ids: Sequence[str], qs: dict[str, Question]
) -> list[float]:
    return correctness([probs[q][qs[q].correct_index] for q in ids]).tolist()


def _ceilings_for(student: TrainingRun, ceilings: Sequence[TrainingRun]) -> dict[Any, TrainingRun]:
    """Ceiling runs comparable with ``student`` by seed: same test questions, same student
    settings except the loss (a ceiling always trains with ``xent``)."""
    test = list(student.inputs.get("test_question_ids", []))
    same = _setting(student.config, ("seed", "loss"))
    return {
        r.config.get("seed"): r
        for r in ceilings
        if list(r.inputs.get("test_question_ids", [])) == test
        and _setting(r.config, ("seed", "loss")) == same
    }


def _weak_on_test(
    store: Store, experiment: Experiment, label_set: LabelSet, test: Sequence[str]
) -> dict[str, list[float]]:
    """The label set's aggregation of the same judges on the test questions (soft labels)."""
    params = label_set.params
    request = LabelRequest(
        method=label_set.method,  # type: ignore[arg-type]
        protocol=params.get("protocol"),
        judges=tuple(params["judges"]) if params.get("judges") is not None else None,
        question_ids=tuple(test),
    )
    return {q: agg.soft for q, agg in compute_labels(store, experiment, request).items()}


def pgr_rows(store: Store, experiment: Experiment) -> list[PGRRow]:
    """One row per label source (and student setting) that has students and ceilings."""
    runs = store.all(
        TrainingRun, TrainingRun.experiment_id == experiment.id, order_by=TrainingRun.id
    )
    runs = [r for r in runs if r.status == "complete" and "test_probs" in r.metrics]
    ceilings = [r for r in runs if r.method == "ceiling"]
    students: dict[tuple[str, str], list[TrainingRun]] = defaultdict(list)
    for r in runs:
        if r.method == "student" and r.inputs.get("label_set"):
            students[(r.inputs["label_set"], _setting(r.config, ("seed",)))].append(r)
    several = len({s for _, s in students}) > 1
    seed = int(experiment.config.get("seed", 0) or 0)
    rows: list[PGRRow] = []
    for (set_name, _), group in sorted(students.items()):
        partner = _ceilings_for(group[0], ceilings)
        paired = sorted(
            ((r.config.get("seed"), r) for r in group if r.config.get("seed") in partner),
            key=lambda sr: str(sr[0]),
        )
        ls = store.first(LabelSet, LabelSet.name == set_name)
        if not paired or ls is None:
            continue
        test = list(group[0].inputs.get("test_question_ids", []))
        control = is_control(ls)
        weak = {} if control else _weak_on_test(store, experiment, ls, test)
        chosen = [r for _, r in paired]
        tops = [partner[s] for s, _ in paired]
        ids = [
            q
            for q in test
            if (control or q in weak) and all(q in r.metrics["test_probs"] for r in chosen + tops)
        ]
        if not ids:
            continue
        trained = set(group[0].inputs.get("train_question_ids", []))
        labels = [lab for lab in labels_of(store, set_name) if lab.question_id in trained]
        qs = questions_by_id(store, [*ids, *(lab.question_id for lab in labels)])
        name = (
            control_title(float(ls.params["flip_rate"]))
            if control
            else source_name(set_name, experiment.name)
        )
        label_acc = (
            float(np.mean([lab.hard == qs[lab.question_id].correct_index for lab in labels]))
            if labels
            else math.nan
        )
        if several:
            name += f" (loss {group[0].config.get('loss', '?')})"
        rows.append(
            pgr_row(
                name,
                [label_acc] * len(ids) if control else _correct(weak, ids, qs),
                [_correct(r.metrics["test_probs"], ids, qs) for r in chosen],
                [_correct(r.metrics["test_probs"], ids, qs) for r in tops],
                seed=seed,
                label_accuracy=label_acc,
                labels=len(labels),
                label_confidence=(
                    float(np.mean([lab.confidence for lab in labels])) if labels else math.nan
                ),
            )
        )
    return rows
