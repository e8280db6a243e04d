"""The project's own transcript record: one JSON object per debate, with every stored field.

A record holds the debate, its question, its turns and judgments, and the experiment it
belongs to (with the judge ensembles replayed on it), each as the Store row serialized field
by field, ids and timestamps included. Reading a record back gives the same rows, so an
export imported into a fresh database reproduces the experiment exactly; each line stands
alone, so any subset of lines imports too. Both the ``jsonl`` and the ``hf`` exports are built
from these records.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, TypeVar

from pydantic import ValidationError
from sqlmodel import SQLModel

from oversight.store import (
    Debate,
    Experiment,
    JudgeEnsemble,
    Judgment,
    Question,
    Store,
    Turn,
)
from oversight.transcripts.bundle import DebateBundle, ExperimentSpec, debate_id

FORMAT = "oversight.debate/1"
"""Value of every record's ``format`` field; a reader refuses records of another format."""

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
                for t in sorted(turns[d.id], key=lambda t: (t.round, t.id or 0))
            ],
            "judgments": [j.model_dump(mode="json", exclude={"debate_id"})
                          for j in judgments[d.id]],
        }


def experiment_record(exp: Experiment, ensembles: Sequence[JudgeEnsemble]) -> dict[str, Any]:
    data = exp.model_dump(mode="json", exclude={"id"})
    data["ensembles"] = [
        e.model_dump(mode="json", exclude={"id", "experiment_id"}) for e in ensembles
    ]
    return data


def _validate(model: type[RowT], data: Any, field: str, **fixed: Any) -> RowT:
    if not isinstance(data, dict):
        raise RecordError(field, f"expected an object, got {type(data).__name__}")
    try:
        return model.model_validate({**data, **fixed})
    except ValidationError as err:
        first = err.errors()[0]
        loc = ".".join(str(p) for p in first["loc"])
        raise RecordError(f"{field}.{loc}" if loc else field, first["msg"]) from None


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
    the same export can be imported twice, side by side, under two names.
    """
    if not isinstance(record, dict):
        raise RecordError("", f"expected a JSON object, got {type(record).__name__}")
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
        config=exp.config,
        config_hash=exp.config_hash,
        code_version=exp.code_version,
        created=exp.created if "created" in head else None,
    )
    question = _validate(Question, record.get("question"), "question")
    debate = _validate(Debate, record.get("debate"), "debate", experiment_id=0)
    if debate.question_id != question.id:
        raise RecordError("debate.question_id",
                          f"{debate.question_id!r} is not the record's question {question.id!r}")
    if name != exp.name:
        debate.id = debate_id(name, debate.key)
    turns = [
        _validate(Turn, t, f"turns.{i}", debate_id=debate.id)
        for i, t in enumerate(_list(record, "turns"))
    ]
    judgments = [
        _validate(Judgment, j, f"judgments.{i}", debate_id=debate.id)
        for i, j in enumerate(_list(record, "judgments"))
    ]
    return spec, ensembles, DebateBundle(question, debate, turns, judgments)

