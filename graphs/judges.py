"""The judge-ensemble subgraph: one ``Send`` per judge, each judgment stored once.

Used at the end of every protocol graph and, alone, to replay stored debates under new judges.
"""

from __future__ import annotations

import operator
from typing import Annotated, Any, TypedDict

from langgraph.graph import START, StateGraph
from langgraph.types import Send

from graphs.context import RETRY, GraphContext
from oversight.store.tables import Judgment


class EnsembleState(TypedDict):
    debate_id: str
    judgment_ids: Annotated[list[int], operator.add]


class JudgeTask(TypedDict):
    debate_id: str
    judge_index: int


def build_judge_ensemble(ctx: GraphContext) -> Any:
    """Compiled subgraph: fans out to every judge of ``ctx`` for one debate."""

    def fan_out(state: EnsembleState) -> list[Send]:
        return [
            Send("judge", JudgeTask(debate_id=state["debate_id"], judge_index=i))
            for i in range(len(ctx.judges))
        ]

    async def judge(task: JudgeTask) -> dict[str, list[int]]:
        binding = ctx.judges[task["judge_index"]]
        debate_id = task["debate_id"]
        judge_id = binding.judge.judge_id
        found = ctx.store.judgment_id(debate_id, judge_id)
        if found is None:
            debate, question = ctx.facts(debate_id)
            turns = ctx.store.turns(debate_id)
            verdict = await binding.judge.judge(binding.backend, question, turns, debate.assignment)
            found = ctx.store.add_judgment_id(
                Judgment(
                    debate_id=debate_id,
                    judge_id=judge_id,
                    kind=binding.judge.kind,
                    model=binding.judge.model,
                    probs=verdict.probs,
                    probs_by_order=verdict.probs_by_order,
                    raw=verdict.raw,
                    context=verdict.context,
                )
            )
        return {"judgment_ids": [found]}

    builder = StateGraph(EnsembleState)
    builder.add_node("judge", judge, input_schema=JudgeTask, retry_policy=RETRY)  # type: ignore[call-overload]
    builder.add_conditional_edges(START, fan_out, ["judge"])
    return builder.compile()
