"""A matchup: a debate between two debater variants, the game a tournament is made of.

The first debater speaks with the protocol's own settings (``model``, ``best_of``, ``prompt``),
the second with ``opponent``'s; everything else (rounds, word limit, sampling, judges) is
shared, so the games differ only in the debaters. With ``swap`` each variant argues each
answer; a tournament also plays the reverse matchup, so each variant sits in both seats.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from graphs.protocols.rounds import (
    BestOf,
    Refine,
    SeatSpeaker,
    SpeechProtocolConfig,
    Turns,
    advocate_of,
    rounds_graph,
)
from oversight.protocol_registry import ProtocolConfig, Role, Seat, register, seats


class DebaterVariant(BaseModel):
    """One way of debating: the model (an adapter is a model alias of its own), the number
    of candidates per speech and the prompt template."""

    model_config = ConfigDict(extra="forbid")

    model: str
    best_of: int = Field(default=1, ge=1, le=32)
    prompt: str | None = None
    """Template name (``agents/prompts``) or path; None: the built-in debater prompt."""
    critic: str | None = None
    """Alias of the model that critiques each draft before the revision; None: no critique."""


class MatchupProtocol(SpeechProtocolConfig):
    """Two debaters of different variants argue opposite answers."""

    fields_added: ClassVar[dict[str, Any]] = {
        **SpeechProtocolConfig.fields_added,
        "prompt": None,
    }

    kind: Literal["matchup"] = "matchup"
    prompt: str | None = None
    """The first debater's template; None: the built-in debater prompt."""
    opponent: DebaterVariant
    """The second debater's variant."""
    turns: Turns = "simultaneous"
    swap: bool = True
    """Also run with the answers exchanged: each variant argues each answer."""

    @model_validator(mode="after")
    def _opponent_samples(self) -> MatchupProtocol:
        if self.opponent.best_of > 1 and self.generation.temperature <= 0:
            raise ValueError("opponent.best_of: needs generation.temperature > 0")
        return self

    def seats(self) -> list[Seat]:
        return seats(Role.DEBATER, 2)

    def assignments(self) -> list[dict[str, int]]:
        a, b = (s.slot for s in self.seats())
        return [{a: 0, b: 1}, {a: 1, b: 0}] if self.swap else [{a: 0, b: 1}]

    def models_used(self) -> dict[str, str]:
        used = {**super().models_used(), "opponent.model": self.opponent.model}
        if self.opponent.critic is not None:
            used["opponent.critic"] = self.opponent.critic
        return used

    def variants(self) -> dict[str, DebaterVariant]:
        """Seat slot -> the variant that speaks there."""
        first, second = (s.slot for s in self.seats())
        mine = DebaterVariant(
            model=self.model, best_of=self.best_of, prompt=self.prompt, critic=self.critic
        )
        return {first: mine, second: self.opponent}


def build(name: str, config: ProtocolConfig) -> Any:
    assert isinstance(config, MatchupProtocol)
    per_seat = {
        slot: SeatSpeaker(
            advocate_of(name, config, Role.DEBATER, model_alias=v.model, prompt=v.prompt),
            BestOf(v.best_of, config.preference_judge) if v.best_of > 1 else None,
            Refine(v.critic, config.critique_words) if v.critic else None,
        )
        for slot, v in config.variants().items()
    }
    first = next(iter(per_seat.values())).advocate
    return rounds_graph(config, config.seats(), first, turns=config.turns, per_seat=per_seat)


register(MatchupProtocol, build, "two debater variants argue opposite answers")
