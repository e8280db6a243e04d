"""The judge-ensemble subgraph: one ``Send`` per judge, each judgment stored once.

Used at the end of every protocol graph, after each round where a protocol judges every
round, and, alone, to replay stored debates under new judges. The judges are those of the
runtime context (:class:`graphs.context.GraphContext`), called through the
:class:`~oversight.judging.Judge` interface whatever their kind.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Sequence
from typing import Annotated, Any, TypedDict

from langgraph.graph import START, StateGraph
from langgraph.runtime import Runtime
from langgraph.types import Send

from graphs.context import RETRY, GraphContext, JudgeBinding
from oversight.judging import judgment_row
from oversight.protocol_registry import JUDGE_SEAT
from oversight.store.judges import FINAL_VERDICT
from oversight.store.tables import Judgment


class EnsembleState(TypedDict):
    debate_id: str
    after_round: int
    """The round the verdicts follow (they read rounds up to it), or -1 for the final one."""
    judgment_ids: Annotated[list[int], operator.add]


class JudgeTask(TypedDict):
    debate_id: str
    after_round: int
    judge_index: int


Bindings = Callable[[GraphContext], Sequence[JudgeBinding]]
"""Which judges a subgraph calls, from the runtime context."""


def experiment_judges(ctx: GraphContext) -> Sequence[JudgeBinding]:
    """The experiment's (or the replay's) judge ensemble."""
    return ctx.judges


def build_judge_ensemble(bindings: Bindings = experiment_judges) -> Any:
    """Compiled subgraph: fans out to every judge ``bindings`` gives for one debate."""

    def fan_out(state: EnsembleState, runtime: Runtime[GraphContext]) -> list[Send]:
        return [
            Send(
                "judge",
                JudgeTask(
                    debate_id=state["debate_id"],
                    after_round=state.get("after_round", FINAL_VERDICT),
                    judge_index=i,
                ),
            )
            for i in range(len(bindings(runtime.context)))
        ]

    async def judge(task: JudgeTask, runtime: Runtime[GraphContext]) -> dict[str, list[int]]:
        binding = bindings(runtime.context)[task["judge_index"]]
        return {"judgment_ids": [await judgment_for(runtime.context, binding, task)]}

    builder = StateGraph(EnsembleState, context_schema=GraphContext)
    builder.add_node("judge", judge, input_schema=JudgeTask, retry_policy=RETRY)  # type: ignore[call-overload]
    builder.add_conditional_edges(START, fan_out, ["judge"])
    return builder.compile()


async def judgment_for(ctx: GraphContext, binding: JudgeBinding, task: JudgeTask) -> int:
    """The id of ``binding``'s stored verdict for the task, computed and stored if missing."""
    debate_id, after = task["debate_id"], task["after_round"]
    judge_id = binding.judge.judge_id
    found = ctx.store.judgment_id(debate_id, judge_id, after)
    if found is not None:
        return found
    debate, question = ctx.facts(debate_id)
    turns = ctx.store.turns(debate_id)
    if after != FINAL_VERDICT:
        # The judge's question after this round is asked once these verdicts are given.
        turns = [
            t
            for t in turns
            if t.round < after or (t.round == after and t.speaker != JUDGE_SEAT.slot)
        ]
    last = max((t.round for t in turns), default=None)
    same = None
    if after == FINAL_VERDICT and last is not None:
        # The verdict after the last round spoken read this very transcript: reuse it.
        same = ctx.store.judgment(debate_id, judge_id, last)
    if same is not None:
        row = Judgment(
            debate_id=debate_id,
            judge_id=judge_id,
            kind=same.kind,
            model=same.model,
            after_round=FINAL_VERDICT,
            probs=list(same.probs),
            probs_by_order=dict(same.probs_by_order),
            raw={**same.raw, "same_as_after_round": last},
            context=dict(same.context),
        )
    else:
        verdict = await binding.judge.judge(binding.backend, question, turns, debate.assignment)
        row = judgment_row(binding.judge, debate_id, after, verdict)
    return ctx.store.add_judgment_id(row)
