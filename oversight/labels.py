"""Judgments -> label sets: the verdicts of a judge ensemble become training labels.

A label is built from stored final judgments only (``after_round == -1``). Each judgment is
already position-debiased (the judge scored both presentation orders and averaged them), so
this module aggregates across the debates of a question and across judges:

1. per judge, the arithmetic mean of its probabilities over the question's debates (the
   debates of one question are exchangeable samples of that judge's view);
2. across judges, by ``method``: ``mean`` (average probability), ``vote`` (fraction of judges
   whose favourite is each choice; ties broken by the mean) or ``logit-mean`` (average
   log-probability, renormalized: a geometric mean that lets confident judges count more).

Ties are exact (:data:`LABEL_TIE_RULE`): a label is tied when its top probabilities are
equal as floats, with no tolerance, like a judge verdict (``oversight.metrics.is_tie``). The
hard label of a tie is a coin seeded by the question, never index 0: otherwise the accuracy
of near-uniform labels would measure where the answer key sits in the choice list.

Ground truth (``Question.correct_index``) is never read here: a label must mean "what the
overseers concluded", or weak-to-strong results would be contaminated by the answer key.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, get_args

import numpy as np

from oversight.store import (
    Experiment,
    Judgment,
    Label,
    LabelSet,
    Question,
    Store,
    StoreError,
)
from oversight.store.store import FinalJudgment

if TYPE_CHECKING:
    from datasets import Dataset

Method = Literal["mean", "vote", "logit-mean"]
METHODS: tuple[str, ...] = get_args(Method)

_EPS = 1e-6

LABEL_TIE_RULE = (
    "Label ties: top probabilities exactly equal (no tolerance); the mean breaks a tie of "
    "votes, a seeded coin per question any other"
)
"""The tie rule as reports state it."""


class LabelError(ValueError):
    """Labels that cannot be built as asked (unknown method, a name reused with other params)."""


@dataclass(frozen=True)
class Aggregate:
    """One question's aggregated verdict."""

    soft: list[float]
    """Probability per choice, summing to 1."""
    hard: int
    """The choice the label favours."""
    confidence: float
    """``max(soft)``: how sure the ensemble is, used for filtering."""
    n_judges: int
    agreement: float
    """Fraction of judges whose own favourite is ``hard`` (a judge exactly split between
    several choices counts as a fraction ``1 / ties`` of a judge for each)."""
    tied: bool = False
    """``hard`` was drawn by the coin: the label's top choices are exactly tied."""


def _normalize(p: np.ndarray) -> np.ndarray:
    total = p.sum()
    return p / total if total > 0 else np.full_like(p, 1.0 / p.size)


def tie_coin(candidates: Sequence[int], key: str) -> int:
    """One of ``candidates``, chosen by a hash of ``key``: a seeded coin that is the same on
    every rerun and independent of where the correct answer sits."""
    digest = hashlib.sha256(f"label-tie\0{key}".encode()).digest()
    return int(candidates[int.from_bytes(digest[:8], "big") % len(candidates)])


def _top(values: np.ndarray) -> np.ndarray:
    """Indices of the exact maximum (no tolerance: 0.5 + 5e-6 beats 0.5)."""
    return np.flatnonzero(values == values.max())


def aggregate(
    per_judge: Sequence[Sequence[float]], method: Method = "mean", *, tie_key: str = ""
) -> Aggregate:
    """Combine one probability vector per judge into a label.

    The hard label is the exact argmax of ``soft``; a tie is broken by the judges' mean
    probability (``vote``, ``logit-mean``), then by :func:`tie_coin` on ``tie_key`` (the
    pipeline passes seed and question id). Pure function over numbers, so every method can
    be checked on hand-computed cases.
    """
    if method not in METHODS:
        raise LabelError(f"unknown label method {method!r} (known: {', '.join(METHODS)})")
    probs = np.asarray(per_judge, dtype=float)
    if probs.ndim != 2 or probs.shape[0] == 0:
        raise LabelError("aggregate needs at least one judge's probability vector")
    probs = np.stack([_normalize(row) for row in probs])
    mean = probs.mean(axis=0)
    if method == "mean":
        soft = mean
    elif method == "logit-mean":
        logp = np.log(np.clip(probs, _EPS, 1.0)).mean(axis=0)
        soft = np.exp(logp - logp.max())
        soft = soft / soft.sum()
    else:
        votes = np.zeros(probs.shape[1])
        for row in probs:
            top = _top(row)
            votes[top] += 1.0 / top.size  # a judge that is exactly undecided splits its vote
        soft = votes / votes.sum()
    best = _top(soft)
    best = best[_top(mean[best])]
    tied = best.size > 1
    hard = tie_coin(best.tolist(), tie_key) if tied else int(best[0])
    tops = [_top(row) for row in probs]
    return Aggregate(
        soft=[float(x) for x in soft],
        hard=hard,
        confidence=float(soft.max()),
        n_judges=int(probs.shape[0]),
        agreement=float(np.mean([(hard in t) / t.size for t in tops])),
        tied=tied,
    )


def per_judge_probs(
    judgments: Iterable[Judgment | FinalJudgment], question_of: dict[str, str]
) -> dict[str, dict[str, list[float]]]:
    """question id -> judge id -> that judge's mean probabilities over the question's debates."""
    acc: dict[str, dict[str, list[list[float]]]] = defaultdict(lambda: defaultdict(list))
    for j in judgments:
        qid = question_of.get(j.debate_id)
        if qid is not None:
            acc[qid][j.judge_id].append(list(j.probs))
    return {
        qid: {jid: np.mean(np.asarray(rows), axis=0).tolist() for jid, rows in by_judge.items()}
        for qid, by_judge in acc.items()
    }


@dataclass(frozen=True)
class LabelRequest:
    """Which judgments to aggregate and how; stored whole as the LabelSet's params."""

    method: Method = "mean"
    min_confidence: float = 0.0
    """Questions whose label confidence is below this are left out of the set."""
    protocol: str | None = None
    """Only debates of this protocol (``None``: every protocol of the experiment)."""
    judges: tuple[str, ...] | None = None
    """Only these judge ids (``None``: every judge that judged)."""
    question_ids: tuple[str, ...] | None = None
    """Only these questions, e.g. the labelling split of a weak-to-strong run."""
    tie_seed: int = 0
    """Seed of the coin that breaks exact ties (:data:`LABEL_TIE_RULE`)."""

    def params(self) -> dict[str, Any]:
        qids = sorted(self.question_ids) if self.question_ids is not None else None
        return {
            "method": self.method,
            "ties": "exact, coin",
            "tie_seed": self.tie_seed,
            "min_confidence": self.min_confidence,
            "protocol": self.protocol,
            "judges": sorted(self.judges) if self.judges is not None else None,
            "questions": len(qids) if qids is not None else None,
            "questions_hash": _hash(qids) if qids is not None else None,
        }

    def default_name(self, experiment: str) -> str:
        return f"{experiment}/{self.method}/{self.protocol or 'all'}/{_hash(self.params())}"


def _hash(obj: Any) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True).encode()).hexdigest()[:10]


def compute_labels(
    store: Store, experiment: Experiment, request: LabelRequest
) -> dict[str, Aggregate]:
    """question id -> aggregated label, from the experiment's stored final judgments."""
    if request.method not in METHODS:
        raise LabelError(f"unknown label method {request.method!r} (known: {', '.join(METHODS)})")
    assert experiment.id is not None
    # Only the columns labels need, joined in SQL: loading every debate and judgment as ORM
    # rows took a minute at 100,000 debates.
    finals = store.final_judgments(experiment.id, request.protocol)
    if request.question_ids is not None:
        wanted = set(request.question_ids)
        finals = [j for j in finals if j.question_id in wanted]
    if request.judges is not None:
        judges = set(request.judges)
        finals = [j for j in finals if j.judge_id in judges]
    question_of = {j.debate_id: j.question_id for j in finals}
    out: dict[str, Aggregate] = {}
    for qid, by_judge in per_judge_probs(finals, question_of).items():
        agg = aggregate(
            [by_judge[k] for k in sorted(by_judge)],
            request.method,
            tie_key=f"{request.tie_seed}\0{qid}",
        )
        if agg.confidence + 1e-12 >= request.min_confidence:
            out[qid] = agg
    return out


def build_label_set(
    store: Store, experiment: str, request: LabelRequest, name: str | None = None
) -> LabelSet:
    """Build (or reuse) a stored LabelSet.

    A label set is immutable: rebuilding one under the same name with the same params returns
    the stored set untouched; the same name with other params is an error, never an overwrite.
    """
    exp = store.require_experiment(experiment)
    name = name or request.default_name(experiment)
    params = request.params()
    existing = store.first(LabelSet, LabelSet.name == name)
    if existing is not None:
        if existing.params != params or existing.method != request.method:
            raise LabelError(
                f"label set {name!r} already exists with other params ({existing.params}); "
                "choose another --name"
            )
        return existing
    labels = compute_labels(store, exp, request)
    if not labels:
        raise LabelError(
            f"no final judgments match in experiment {experiment!r} (protocol "
            f"{request.protocol or 'any'}, judges {list(request.judges or []) or 'any'})"
        )
    assert exp.id is not None
    store.insert_ignore(
        [LabelSet(name=name, experiment_id=exp.id, method=request.method, params=params)]
    )
    stored = store.first(LabelSet, LabelSet.name == name)
    assert stored is not None and stored.id is not None
    store.insert_values(
        Label,
        [
            {
                "label_set_id": stored.id,
                "question_id": qid,
                "soft": agg.soft,
                "hard": agg.hard,
                "confidence": agg.confidence,
                "n_judges": agg.n_judges,
                "agreement": agg.agreement,
            }
            for qid, agg in sorted(labels.items())
        ],
    )
    return stored


def label_set(store: Store, name: str) -> LabelSet:
    found = store.first(LabelSet, LabelSet.name == name)
    if found is None:
        raise StoreError(f"no label set named {name!r} in {store.url}")
    return found


def labels_of(store: Store, label_set_name: str) -> list[Label]:
    ls = label_set(store, label_set_name)
    return store.all(Label, Label.label_set_id == ls.id, order_by=Label.question_id)


LABEL_COLUMNS = (
    "question_id",
    "question",
    "context",
    "choices",
    "soft",
    "hard",
    "confidence",
    "n_judges",
    "agreement",
)
"""Columns of an exported label set: the question as a student may see it, and its label.
The answer key (``correct_index``) is deliberately absent."""


def questions_by_id(store: Store, ids: Iterable[str]) -> dict[str, Question]:
    """Questions by id, fetched in chunks (one query per 500 ids, not one per id)."""
    wanted = sorted(set(ids))
    out: dict[str, Question] = {}
    for i in range(0, len(wanted), 500):
        chunk = wanted[i : i + 500]
        for q in store.all(Question, Question.id.in_(chunk)):  # type: ignore[attr-defined]
            out[q.id] = q
    return out


def label_rows(store: Store, label_set_name: str) -> list[dict[str, Any]]:
    """The label set joined with its questions, without the answer key."""
    labels = labels_of(store, label_set_name)
    questions = questions_by_id(store, (lab.question_id for lab in labels))
    rows = []
    for lab in labels:
        q = questions[lab.question_id]
        rows.append(
            {
                "question_id": q.id,
                "question": q.text,
                "context": q.context or "",
                "choices": list(q.choices),
                "soft": list(lab.soft),
                "hard": lab.hard,
                "confidence": lab.confidence,
                "n_judges": lab.n_judges,
                "agreement": lab.agreement,
            }
        )
    return rows


def label_dataset(store: Store, label_set_name: str) -> Dataset:
    """The label set as a ``datasets.Dataset`` (Arrow), ready for ``train/``."""
    from datasets import Dataset

    rows = label_rows(store, label_set_name)
    return Dataset.from_dict({col: [r[col] for r in rows] for col in LABEL_COLUMNS})


def label_accuracy(store: Store, label_set_name: str) -> float:
    """Fraction of labels whose hard label is the correct answer (evaluation only).

    This reads the answer key *after* the labels were built, to report how good the overseers
    were; it is never used to build or filter a label.
    """
    labs = labels_of(store, label_set_name)
    if not labs:
        return math.nan
    questions = questions_by_id(store, (lab.question_id for lab in labs))
    return float(np.mean([lab.hard == questions[lab.question_id].correct_index for lab in labs]))
