"""The project's own transcript record: one JSON object per debate, with every stored field.

A record holds the debate, its question, its turns and judgments, and the experiment it
belongs to (with the judge ensembles replayed on it), each as the Store row serialized field
by field, ids and timestamps included. Reading a record back gives the same rows, so an
export imported into a fresh database reproduces the experiment exactly; each line stands
alone, so any subset of lines imports too. Both the ``jsonl`` and the ``hf`` exports are built
from these records.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator, Sequence
from typing import Any, TypeVar

from pydantic import ValidationError
from sqlmodel import SQLModel

from oversight.config import mask_credentials
from oversight.data.records import question_id
from oversight.store import (
    Debate,
    Experiment,
    JudgeEnsemble,
    Judgment,
    Question,
    Store,
    Turn,
)
from oversight.store.kinds import JudgeKind, legacy_kind
from oversight.store.store import mask_secrets, transcript_order
from oversight.transcripts.bundle import DebateBundle, ExperimentSpec, debate_id

FORMAT = "oversight.debate/1"
"""Value of every record's ``format`` field; a reader refuses records of another format."""

PROB_SUM_TOLERANCE = 1e-3
"""How far a stored probability vector may sum from 1 (float rounding, human sliders)."""

DB_INT = (-(2**63), 2**63 - 1)
"""The integers a database column holds (signed 64-bit)."""

RowT = TypeVar("RowT", bound=SQLModel)


class RecordError(ValueError):
    """A record that does not hold valid rows; ``field`` is the dotted path of the problem."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(problem)
        self.field = field
        self.problem = problem


def _chunks(ids: Sequence[str], size: int = 500) -> Iterator[Sequence[str]]:
    for i in range(0, len(ids), size):
        yield ids[i : i + size]


def experiment_records(store: Store, name: str) -> Iterator[dict[str, Any]]:
    """Every debate of the experiment as a record, in the order the debates were created."""
    exp = store.require_experiment(name)
    assert exp.id is not None
    debates = store.debates(exp.id)
    ids = [d.id for d in debates]
    qids = sorted({d.question_id for d in debates})
    questions: dict[str, Question] = {}
    turns: dict[str, list[Turn]] = {i: [] for i in ids}
    judgments: dict[str, list[Judgment]] = {i: [] for i in ids}
    for chunk in _chunks(qids):
        questions.update({q.id: q for q in store.all(Question, Question.id.in_(chunk))})  # type: ignore[attr-defined]
    for chunk in _chunks(ids):
        for t in store.all(Turn, Turn.debate_id.in_(chunk), order_by=Turn.id):  # type: ignore[attr-defined]
            turns[t.debate_id].append(t)
        for j in store.all(Judgment, Judgment.debate_id.in_(chunk), order_by=Judgment.id):  # type: ignore[attr-defined]
            judgments[j.debate_id].append(j)
    ensembles = store.all(
        JudgeEnsemble, JudgeEnsemble.experiment_id == exp.id, order_by=JudgeEnsemble.id
    )
    head = experiment_record(exp, ensembles)
    for d in debates:
        yield {
            "format": FORMAT,
            "experiment": head,
            "question": questions[d.question_id].model_dump(mode="json"),
            "debate": d.model_dump(mode="json", exclude={"experiment_id"}),
            "turns": [
                t.model_dump(mode="json", exclude={"debate_id"})
                for t in sorted(turns[d.id], key=transcript_order)
            ],
            "judgments": [
                j.model_dump(mode="json", exclude={"debate_id"}) for j in judgments[d.id]
            ],
        }


def experiment_record(exp: Experiment, ensembles: Sequence[JudgeEnsemble]) -> dict[str, Any]:
    """The experiment as exported; passwords in any URL of its config are masked, since rows
    stored by earlier versions kept the Store URL and server URLs as written."""
    data = exp.model_dump(mode="json", exclude={"id"})
    data["config"] = _masked(data["config"])
    data["ensembles"] = [
        e.model_dump(mode="json", exclude={"id", "experiment_id"}) for e in ensembles
    ]
    return data


def _masked(value: Any) -> Any:
    """``value`` with the password of every URL in it replaced by ``***``."""
    if isinstance(value, dict):
        return {k: _masked(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_masked(v) for v in value]
    if isinstance(value, str):
        with contextlib.suppress(ValueError):  # not a parseable URL: the pattern still applies
            value = mask_credentials(value)
        return mask_secrets(value)
    return value


def _validate(model: type[RowT], data: Any, field: str, **fixed: Any) -> RowT:
    if not isinstance(data, dict):
        raise RecordError(field, f"expected an object, got {type(data).__name__}")
    try:
        row = model.model_validate({**data, **fixed})
    except ValidationError as err:
        first = err.errors()[0]
        loc = ".".join(str(p) for p in first["loc"])
        raise RecordError(f"{field}.{loc}" if loc else field, first["msg"]) from None
    for name, value in row:
        # Valid for pydantic, yet a database refuses them (or turns NaN into NULL).
        if isinstance(value, int) and not DB_INT[0] <= value <= DB_INT[1]:
            raise RecordError(f"{field}.{name}", f"{value} is outside a database integer")
        if isinstance(value, float) and not math.isfinite(value):
            raise RecordError(f"{field}.{name}", f"{value} is not a finite number")
    return row


def _check_unicode(value: Any, field: str) -> None:
    """Every string of the record encodable as UTF-8: a lone surrogate (a ``\\u`` escape
    of half a character) fails in the database or tokenizer long after the import."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise RecordError(field, "is not valid Unicode text (a lone surrogate)") from None
    elif isinstance(value, dict):
        for key, item in value.items():
            _check_unicode(key, field)
            _check_unicode(item, f"{field}.{key}" if field else str(key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            _check_unicode(item, f"{field}.{i}" if field else str(i))


def _with_kind(judgment: Any) -> Any:
    """Records exported before judge kinds were stored get the kind their id implied."""
    if isinstance(judgment, dict) and "kind" not in judgment:
        return {**judgment, "kind": legacy_kind(str(judgment.get("judge_id", ""))).value}
    return judgment


def _list(record: dict[str, Any], field: str) -> list[Any]:
    value = record.get(field, [])
    if not isinstance(value, list):
        raise RecordError(field, f"expected a list, got {type(value).__name__}")
    return value


def parse_record(
    record: Any, experiment: str | None = None
) -> tuple[ExperimentSpec, list[JudgeEnsemble], DebateBundle]:
    """The rows of one record; ``experiment`` imports it under another experiment name.

    Under another name a debate gets the id that name gives it (as the runner derives ids), so
    the same export can be imported twice, side by side, under two names. Passwords in URLs
    of the experiment's config (in exports written by earlier versions) are masked.
    """
    if not isinstance(record, dict):
        raise RecordError("", f"expected a JSON object, got {type(record).__name__}")
    _check_unicode(record, "")
    if record.get("format") != FORMAT:
        raise RecordError("format", f"expected {FORMAT!r}, got {record.get('format')!r}")
    head = record.get("experiment")
    exp = _validate(Experiment, head, "experiment")
    assert isinstance(head, dict)
    name = experiment or exp.name
    ensembles = [
        _validate(JudgeEnsemble, e, f"experiment.ensembles.{i}", experiment_id=0)
        for i, e in enumerate(_list(head, "ensembles"))
    ]
    spec = ExperimentSpec(
        name=name,
        config=_masked(exp.config),
        config_hash=exp.config_hash,
        code_version=exp.code_version,
        created=exp.created if "created" in head else None,
    )
    question = _validate(Question, record.get("question"), "question")
    _check_question(question)
    debate = _validate(Debate, record.get("debate"), "debate", experiment_id=0)
    if debate.question_id != question.id:
        raise RecordError(
            "debate.question_id",
            f"{debate.question_id!r} is not the record's question {question.id!r}",
        )
    _check_assignment(debate, len(question.choices))
    if name != exp.name:
        debate.id = debate_id(name, debate.key)
    turns = [
        _validate(Turn, t, f"turns.{i}", debate_id=debate.id)
        for i, t in enumerate(_list(record, "turns"))
    ]
    turns = _consistent_ids(turns, "turns")
    for i, turn in enumerate(turns):
        if turn.speaker not in debate.assignment:
            raise RecordError(
                f"turns.{i}.speaker",
                f"{turn.speaker!r} is not a speaker of the debate's assignment "
                f"{sorted(debate.assignment)}",
            )
    judgments = [
        _validate(Judgment, _with_kind(j), f"judgments.{i}", debate_id=debate.id)
        for i, j in enumerate(_list(record, "judgments"))
    ]
    judgments = _consistent_ids(judgments, "judgments")
    for i, judgment in enumerate(judgments):
        _check_judgment(judgment, len(question.choices), f"judgments.{i}")
    return spec, ensembles, DebateBundle(question, debate, turns, judgments)


def _consistent_ids(rows: list[RowT], field: str) -> list[RowT]:
    """Rows whose ids are distinct, and all given or none: a repeated id would drop a row at
    insert-or-ignore, and a batch mixing given and missing ids cannot be inserted at once.
    Ids are local to a database, so a record that gives only some loses them all."""
    seen: dict[int, int] = {}
    for i, row in enumerate(rows):
        row_id = getattr(row, "id", None)
        if row_id is None:
            continue
        if row_id in seen:
            first = f"{field}.{seen[row_id]}"
            raise RecordError(f"{field}.{i}.id", f"{row_id} is also the id of {first}")
        seen[row_id] = i
    if 0 < len(seen) < len(rows):
        return [row.model_copy(update={"id": None}) for row in rows]
    return rows


def _check_question(question: Question) -> None:
    """A question whose id is the hash of its content and whose answer is one of its choices:
    an id that does not match would merge different questions under one id in the Store."""
    n = len(question.choices)
    if n < 2:
        raise RecordError("question.choices", f"needs at least 2 choices, got {n}")
    if not 0 <= question.correct_index < n:
        raise RecordError(
            "question.correct_index",
            f"{question.correct_index} is out of range for {n} choices",
        )
    expected = question_id(question.text, question.choices, question.context)
    if question.id != expected:
        raise RecordError(
            "question.id",
            f"{question.id!r} does not match the question's content (its id is {expected!r})",
        )


def _check_assignment(debate: Debate, n_choices: int) -> None:
    for speaker, index in debate.assignment.items():
        if not 0 <= index < n_choices:
            raise RecordError(
                f"debate.assignment.{speaker}",
                f"choice index {index} is out of range for {n_choices} choices",
            )


def _check_judgment(judgment: Judgment, n_choices: int, field: str) -> None:
    if judgment.kind not in {k.value for k in JudgeKind}:
        known = ", ".join(k.value for k in JudgeKind)
        raise RecordError(f"{field}.kind", f"{judgment.kind!r} is not a judge kind ({known})")
    _check_probs(judgment.probs, n_choices, f"{field}.probs")
    for order, probs in judgment.probs_by_order.items():
        _check_probs(probs, n_choices, f"{field}.probs_by_order.{order}")


def _check_probs(probs: Sequence[float], n_choices: int, field: str) -> None:
    """One probability per choice, each in [0, 1], together summing to 1."""
    if len(probs) != n_choices:
        raise RecordError(field, f"has {len(probs)} probabilities for {n_choices} choices")
    for i, p in enumerate(probs):
        if not (math.isfinite(p) and 0.0 <= p <= 1.0):
            raise RecordError(f"{field}.{i}", f"{p} is not a probability in [0, 1]")
    total = math.fsum(probs)
    if abs(total - 1.0) > PROB_SUM_TOLERANCE:
        raise RecordError(field, f"sums to {total:.6g}, not 1")
