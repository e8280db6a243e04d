"""Position bias: how much a judge's verdict depends on the order the answers were shown in.

A prompted judge is scored with the answers in every presentation order
(``Judgment.probs_by_order``, keyed by the order of choice indices, e.g. ``"0,1"`` and
``"1,0"``, each indexed by choice). Two numbers per judge (see :data:`POSITION_RULES`):

- disagreement: the share of verdicts whose orders favour different answers (an order that
  puts equal probability on its top answers favours all of them; orders disagree when the
  sets of favoured answers differ);
- shift towards the first answer: per verdict, the mean over orders of the probability on
  the answer shown first minus that answer's mean probability over all orders. With two
  answers it is ``(P_AB(A) - P_BA(A)) / 2``, i.e. the mean probability on whichever answer
  came first minus 0.5: 0 for a judge that ignores order, positive when it favours the first.

Verdicts scored in a single order (human judges, trained classifiers) carry no evidence about
order and are left out; each row says how many verdicts it counted.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from oversight.report.context import ReportContext
from oversight.store import Judgment
from oversight.store.judges import FINAL_VERDICT

POSITION_RULES = (
    "only final verdicts scored in two or more presentation orders count (a verdict given in "
    "one order says nothing about order). Orders disagree when they favour different answers "
    "(a tie favours both). Shift: mean over orders of P(answer shown first) minus that "
    "answer's mean over orders; with two answers (P_AB(A) - P_BA(A)) / 2, in percentage "
    "points, positive towards the first answer."
)


@dataclass(frozen=True)
class PositionRow:
    """Position bias of one judge (or a group's members pooled) on one protocol."""

    protocol: str
    group: str
    judge: str
    """A judge's display name, or the group's label on the pooled row."""
    verdicts: int
    """Verdicts scored in two or more orders."""
    disagree: float
    """Share of those verdicts whose orders favour different answers."""
    first_shift: float
    """Mean shift of probability towards the answer shown first."""
    is_group: bool = False


def order_effects(probs_by_order: dict[str, list[float]]) -> tuple[bool, float] | None:
    """(orders disagree, shift towards the first answer) of one verdict; None with one order."""
    orders = [
        (tuple(int(x) for x in key.split(",")), list(probs))
        for key, probs in sorted(probs_by_order.items())
    ]
    if len(orders) < 2:
        return None
    favoured = {frozenset(i for i, p in enumerate(ps) if p == max(ps)) for _, ps in orders}
    mean = np.mean([ps for _, ps in orders], axis=0)
    shift = float(np.mean([ps[order[0]] - mean[order[0]] for order, ps in orders]))
    return len(favoured) > 1, shift


def _row(
    protocol: str, group: str, judge: str, effects: list[tuple[bool, float]], **kw: bool
) -> PositionRow:
    return PositionRow(
        protocol=protocol,
        group=group,
        judge=judge,
        verdicts=len(effects),
        disagree=float(np.mean([d for d, _ in effects])),
        first_shift=float(np.mean([s for _, s in effects])),
        **kw,
    )


def position_rows(ctx: ReportContext) -> list[PositionRow]:
    """Per protocol and group: a row per member judge, then the members pooled."""
    protocol_of = {d.id: d.protocol for d in ctx.debates}
    rows: list[PositionRow] = []
    for group in ctx.groups:
        per_judge: dict[tuple[str, str], list[tuple[bool, float]]] = defaultdict(list)
        for j in _finals(ctx.judgments, group.judge_ids):
            protocol = protocol_of.get(j.debate_id)
            effect = order_effects(j.probs_by_order)
            if protocol is not None and effect is not None:
                per_judge[(protocol, ctx.names.get(j.judge_id, j.judge_id))].append(effect)
        for protocol in sorted({p for p, _ in per_judge}):
            members = sorted((name, e) for (p, name), e in per_judge.items() if p == protocol)
            rows += [_row(protocol, group.label, name, e) for name, e in members]
            pooled = [x for _, e in members for x in e]
            rows.append(_row(protocol, group.label, group.label, pooled, is_group=True))
    return sorted(rows, key=lambda r: r.protocol)


def _finals(judgments: Iterable[Judgment], ids: frozenset[str]) -> Iterable[Judgment]:
    return (j for j in judgments if j.after_round == FINAL_VERDICT and j.judge_id in ids)
