"""Open debate and open consultancy (Kenton et al. 2024): the speaker chooses its side.

Before the first round the choosing speaker (the consultant; in debate the first debater,
whose opponent takes the other answer) scores which answer it will defend with its own model,
from next-token log-probs in both presentation orders (:data:`STANCE_TEMPLATE`, the hidden
context shown). The probabilities are stored as a Judgment of kind ``agent`` with
``after_round`` = -2 (before any speech); the choice is the more probable answer, an exact tie
broken by a coin seeded with the debate id, and it is stored as the debate's assignment. One
debate is planned per question. The report shows how often the chooser picked the correct
answer and the judges' accuracy on each kind of pick.
"""

from __future__ import annotations

from typing import Any, Literal

from agents.judge import PromptedJudge
from agents.templates import load_template
from graphs.context import GraphContext, JudgeBinding
from graphs.judges import JudgeTask, judgment_for
from graphs.protocols.rounds import (
    DebateState,
    SpeechProtocolConfig,
    Turns,
    advocate_of,
    rounds_graph,
)
from oversight.labels import tie_coin
from oversight.protocol_registry import ProtocolConfig, Role, Seat, register, seats
from oversight.store.judges import BEFORE_FIRST_ROUND
from oversight.store.kinds import JudgeKind

STANCE_TEMPLATE = "stance"
"""The template with which the choosing speaker picks its answer."""


class OpenDebateProtocol(SpeechProtocolConfig):
    """Two debaters; the first chooses which answer to defend, the second takes the other."""

    kind: Literal["open_debate"] = "open_debate"
    turns: Turns = "simultaneous"
    """Simultaneous: each sees only earlier rounds. Sequential: the second debater also sees
    the first one's current speech."""

    def seats(self) -> list[Seat]:
        return seats(Role.DEBATER, 2)

    def assignments(self) -> list[dict[str, int]]:
        return [{}]


class OpenConsultancyProtocol(SpeechProtocolConfig):
    """One consultant, who chooses which answer to defend."""

    kind: Literal["open_consultancy"] = "open_consultancy"

    def seats(self) -> list[Seat]:
        return [Seat(Role.CONSULTANT)]

    def assignments(self) -> list[dict[str, int]]:
        return [{}]


def choose(probs: list[float], debate_id: str) -> int:
    """The answer the chooser defends: the more probable one, an exact tie broken by a coin
    seeded with the debate id (the same on every rerun)."""
    best = max(probs)
    return tie_coin([c for c, p in enumerate(probs) if p == best], f"stance\0{debate_id}")


def stance_prelude(name: str, config: SpeechProtocolConfig, chooser: Seat) -> Any:
    """The node that has ``chooser`` pick its side, once per debate."""

    def binding(ctx: GraphContext) -> JudgeBinding:
        def make() -> JudgeBinding:
            model = ctx.models[config.model]
            judge = PromptedJudge(
                f"stance {chooser.slot}",
                model.model,
                load_template(STANCE_TEMPLATE),
                sees_context=True,
                model_identity=model.output_identity(),
                kind=JudgeKind.AGENT,
                context_policy=model.context_policy,
            )
            return JudgeBinding(judge, ctx.speaker_backend(config.model))

        found: JudgeBinding = ctx.once(f"stance:{name}", make)
        return found

    async def prelude(state: DebateState, runtime: Any) -> dict[str, Any]:
        ctx: GraphContext = runtime.context
        debate_id = state["debate_id"]
        _, question = ctx.facts(debate_id)
        debate = ctx.store.debate(debate_id)  # the planned row in memory has no sides yet
        if not debate.assignment:
            bound = binding(ctx)
            task = JudgeTask(debate_id=debate_id, after_round=BEFORE_FIRST_ROUND, judge_index=0)
            await judgment_for(ctx, bound, task)
            stance = ctx.store.judgment(debate_id, bound.judge.judge_id, BEFORE_FIRST_ROUND)
            assert stance is not None
            mine = choose(list(stance.probs), debate_id)
            sides = {s.slot: (mine if s == chooser else 1 - mine) for s in config.seats()}
            debate = ctx.store.set_assignment(debate_id, sides)
        ctx.remember(debate, question)
        return {}

    return prelude


def build_open_debate(name: str, config: ProtocolConfig) -> Any:
    assert isinstance(config, OpenDebateProtocol)
    first = config.seats()[0]
    return rounds_graph(
        config,
        config.seats(),
        advocate_of(name, config, Role.DEBATER),
        turns=config.turns,
        prelude=stance_prelude(name, config, first),
    )


def build_open_consultancy(name: str, config: ProtocolConfig) -> Any:
    assert isinstance(config, OpenConsultancyProtocol)
    (seat,) = config.seats()
    return rounds_graph(
        config,
        [seat],
        advocate_of(name, config, Role.CONSULTANT),
        prelude=stance_prelude(name, config, seat),
    )


register(OpenDebateProtocol, build_open_debate, "the first debater chooses its side")
register(OpenConsultancyProtocol, build_open_consultancy, "the consultant chooses its side")
