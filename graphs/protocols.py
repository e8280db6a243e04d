"""Protocol graphs: debate, consultancy and direct QA.

Each graph runs the speeches of one Debate row round by round, then the judge-ensemble
subgraph, then marks the debate complete. Every speech node first looks its turn up in the
Store by (debate, round, speaker) and only generates what is missing, so re-running a graph
after a crash finishes the work without redoing or duplicating any of it.
"""

from __future__ import annotations

import itertools
import operator
from collections.abc import Hashable
from typing import Annotated, Any, Literal, TypedDict

from langgraph.graph import END, START, StateGraph

from graphs.context import RETRY, GraphContext
from graphs.judges import build_judge_ensemble
from oversight.store.tables import Turn


class DebateState(TypedDict):
    debate_id: str
    round: int
    judgment_ids: Annotated[list[int], operator.add]


def debate_speakers() -> list[str]:
    return ["debater_1", "debater_2"]


def recursion_limit(rounds: int, speakers: int, turns: str) -> int:
    """LangGraph steps one debate takes, with room to spare, so that no number of rounds hits
    LangGraph's default limit of 25 steps. A simultaneous round is three steps (fan-out, the
    speakers in parallel, advance); a sequential round is one step per speaker plus advance;
    judging and finishing are a few more."""
    per_round = 3 if turns == "simultaneous" else speakers + 1
    return rounds * per_round + 10


def _speak_node(ctx: GraphContext, protocol: str, speaker: str, sees_same_round: bool) -> Any:
    """A node in which ``speaker`` gives its speech for the current round, once."""
    advocate, backend, model = ctx.advocates[protocol]

    async def speak(state: DebateState) -> dict[str, Any]:
        debate_id, round_ = state["debate_id"], state["round"]
        # One read of the transcript answers both "is my turn stored?" and "what do I see?".
        stored = ctx.store.turns(debate_id)
        if any(t.round == round_ and t.speaker == speaker for t in stored):
            return {}
        debate, question = ctx.facts(debate_id)
        visible = [t for t in stored if t.round < round_ or (sees_same_round and t.round == round_)]
        speech = await advocate.speak(
            backend, question, speaker, debate.assignment, visible, round_
        )
        # Insert-or-ignore without add_turn's read-back: nothing here needs the stored row.
        ctx.store.insert_ignore(
            [
                Turn(
                    debate_id=debate_id,
                    round=round_,
                    speaker=speaker,
                    model=model,
                    text=speech.text,
                    quotes=speech.quotes,
                    prompt_tokens=speech.prompt_tokens,
                    completion_tokens=speech.completion_tokens,
                    latency_s=speech.latency_s,
                    context=speech.context,
                )
            ]
        )
        return {}

    return speak


def build_protocol_graph(
    ctx: GraphContext,
    protocol: str,
    *,
    speakers: list[str],
    rounds: int,
    turns: Literal["simultaneous", "sequential"] = "simultaneous",
) -> Any:
    """A compiled graph for one protocol.

    ``speakers`` empty gives direct QA (judges only). Simultaneous speakers run as parallel
    branches and each sees only earlier rounds; sequential speakers run in order and each sees
    the speeches before it in the same round.
    """
    ensemble = build_judge_ensemble(ctx)

    async def finish(state: DebateState) -> dict[str, Any]:
        ctx.store.set_status(state["debate_id"], "complete")
        return {}

    async def advance(state: DebateState) -> dict[str, Any]:
        return {"round": state["round"] + 1}

    def more_rounds(state: DebateState) -> str:
        return "speak" if state["round"] < rounds else "judges"

    builder = StateGraph(DebateState)
    builder.add_node("judges", ensemble)
    builder.add_node("finish", finish)
    builder.add_edge("judges", "finish")
    builder.add_edge("finish", END)
    if not speakers:
        builder.add_edge(START, "judges")
        return builder.compile().with_config(recursion_limit=recursion_limit(0, 0, turns))

    builder.add_node("advance", advance)
    names = [f"speak_{s}" for s in speakers]
    for speaker, node in zip(speakers, names, strict=True):
        builder.add_node(
            node,
            _speak_node(ctx, protocol, speaker, sees_same_round=turns == "sequential"),
            retry_policy=RETRY,
        )
    if turns == "simultaneous":
        builder.add_node("round", lambda state: {})
        builder.add_edge(START, "round")
        for node in names:
            builder.add_edge("round", node)
        builder.add_edge(names, "advance")
        targets: dict[Hashable, str] = {"speak": "round", "judges": "judges"}
    else:
        builder.add_edge(START, names[0])
        for a, b in itertools.pairwise(names):
            builder.add_edge(a, b)
        builder.add_edge(names[-1], "advance")
        targets = {"speak": names[0], "judges": "judges"}
    builder.add_conditional_edges("advance", more_rounds, targets)
    limit = recursion_limit(rounds, len(speakers), turns)
    return builder.compile().with_config(recursion_limit=limit)
