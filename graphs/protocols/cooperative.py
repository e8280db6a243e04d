"""Cooperative multi-agent debate (Du et al. 2023): agents answer, read each other, converge.

N copies of a model each answer the question in round 1; in every later round each agent
reads the others' answers of the rounds before and gives its answer again. After each round
every agent's own answer is scored from its model's next-token log-probs (a Judgment of kind
``agent``, with ``after_round``); the protocol's answer is the agents' majority and the mean of
their probabilities (the report's ``agents (mean)`` row). The experiment's judges also judge
the finished discussion, as in every protocol.

An agent's answer is scored in the one order of the answers that the agents saw while
speaking: their speeches name answers by letter, so the letters cannot be exchanged.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import Field, model_validator

from agents import transcript
from agents.judge import ASSISTANT_PREFIX, LABELS, order_key
from agents.templates import PromptTemplate, load_template
from graphs.context import GraphContext, JudgeBinding
from graphs.protocols.rounds import SpeechProtocolConfig, advocate_of, rounds_graph
from oversight.backends.base import Backend, BackendError, ScoreRequest
from oversight.judging import JudgeVerdict
from oversight.protocol_registry import ProtocolConfig, Role, Seat, register, seats
from oversight.store.kinds import AGENT_PREFIX, JudgeKind
from oversight.store.tables import Question, Turn

ANSWER_TEMPLATE = "agent_answer"
"""The template that asks an agent for its answer after a round."""
ORDER = (0, 1)


class CooperativeProtocol(SpeechProtocolConfig):
    """Agents answer together for a number of rounds; no answer is assigned."""

    kind: Literal["cooperative"] = "cooperative"
    agents: int = Field(default=3, ge=2, le=8)
    """Number of agents (copies of ``model``)."""

    @model_validator(mode="after")
    def _no_sides(self) -> CooperativeProtocol:
        if self.best_of > 1:
            raise ValueError("best_of: agents defend no answer, so no candidate can be preferred")
        return self

    def seats(self) -> list[Seat]:
        return seats(Role.AGENT, self.agents)

    def assignments(self) -> list[dict[str, int]]:
        return [{}]


@dataclass(frozen=True)
class AgentAnswer:
    """One agent's own answer after a round: a :class:`~oversight.judging.Judge` of kind
    ``agent`` that reads the discussion as that agent does (its own speeches as "You")."""

    seat: Seat
    model: str
    template: PromptTemplate
    model_identity: Mapping[str, Any] = field(default_factory=dict)
    kind: JudgeKind = JudgeKind.AGENT

    @property
    def name(self) -> str:
        return self.seat.slot

    @property
    def judge_id(self) -> str:
        identity = {
            "seat": self.seat.slot,
            "model": self.model,
            "model_identity": dict(self.model_identity),
            "template": {"system": self.template.system, "user": self.template.user},
            "labels": list(LABELS),
            "order": list(ORDER),
        }
        blob = json.dumps(identity, sort_keys=True, ensure_ascii=True)
        digest = hashlib.sha256(blob.encode()).hexdigest()[:12]
        return f"{AGENT_PREFIX}{self.seat.slot}:{self.model}@{digest}"

    async def judge(
        self,
        backend: Backend,
        question: Question,
        turns: Sequence[Turn],
        assignment: dict[str, int],
    ) -> JudgeVerdict:
        history = transcript.for_speaker(turns, self.seat.slot, assignment)
        context = transcript.plain(question.context) if question.context else ""
        messages = self.template.render(
            name=transcript.speaker_name(self.seat.slot),
            context_section=f"Source material:\n{context}\n\n" if context else "",
            question=transcript.plain(question.text),
            answer_a=transcript.plain(question.choices[ORDER[0]]),
            answer_b=transcript.plain(question.choices[ORDER[1]]),
            transcript_section=f"Discussion so far:\n{history}\n\n" if history else "",
        )
        request = ScoreRequest(messages, labels=list(LABELS), assistant_prefix=ASSISTANT_PREFIX)
        (score,) = await backend.score_choices([request])
        if score.probs is None:
            raise BackendError(
                f"{self.seat.slot}: labels {score.missing} missing from the backend's "
                "log-probs; no probability recorded"
            )
        probs = [float(score.probs[ORDER.index(c)]) for c in range(2)]
        raw = {
            "judge": self.seat.slot,
            "template": self.template.name,
            order_key(ORDER): {"labels": score.labels, "logprobs": score.logprobs},
        }
        return JudgeVerdict(probs=probs, probs_by_order={order_key(ORDER): probs}, raw=raw)


def build(name: str, config: ProtocolConfig) -> Any:
    assert isinstance(config, CooperativeProtocol)
    agent_seats = config.seats()

    def answers(ctx: GraphContext) -> list[JudgeBinding]:
        def make() -> list[JudgeBinding]:
            model = ctx.models[config.model]
            template = load_template(ANSWER_TEMPLATE)
            backend = ctx.speaker_backend(config.model)
            return [
                JudgeBinding(
                    AgentAnswer(seat, model.model, template, model.output_identity()), backend
                )
                for seat in agent_seats
            ]

        found: list[JudgeBinding] = ctx.once(f"answers:{name}", make)
        return found

    advocate = advocate_of(name, config, Role.AGENT)
    return rounds_graph(config, agent_seats, advocate, speaker_answers=answers)


register(CooperativeProtocol, build, "agents answer together and converge (Du et al. 2023)")
