"""Stored debates as classifier context: the debates of each question, with their turns."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from oversight.store import Debate, Store, Turn
from oversight.train.inputs import DebateView


def debate_views(
    store: Store,
    experiment_id: int,
    protocol: str,
    question_ids: Iterable[str] | None = None,
) -> dict[str, list[DebateView]]:
    """question id -> its complete debates of ``protocol``, in a stable (key) order.

    Only complete debates count: a failed or half-run debate would show a classifier a
    transcript the judges never saw.
    """
    wanted = set(question_ids) if question_ids is not None else None
    debates: list[Debate] = [
        d
        for d in store.debates(experiment_id, protocol=protocol, status="complete")
        if wanted is None or d.question_id in wanted
    ]
    debates.sort(key=lambda d: d.key)
    turns: dict[str, list[Turn]] = defaultdict(list)
    ids = [d.id for d in debates]
    for i in range(0, len(ids), 500):
        for t in store.all(Turn, Turn.debate_id.in_(ids[i : i + 500])):  # type: ignore[attr-defined]
            turns[t.debate_id].append(t)
    out: dict[str, list[DebateView]] = defaultdict(list)
    for d in debates:
        ordered = sorted(turns[d.id], key=lambda t: (t.round, t.speaker))
        out[d.question_id].append(
            DebateView(d.id, d.question_id, dict(d.assignment), tuple(ordered))
        )
    return dict(out)
