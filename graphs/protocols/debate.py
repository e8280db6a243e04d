"""Debate (Irving et al. 2018; Khan et al. 2024): two debaters argue opposite answers."""

from __future__ import annotations

from typing import Any, Literal

from graphs.protocols.rounds import SpeechProtocolConfig, Turns, advocate_of, rounds_graph
from oversight.protocol_registry import ProtocolConfig, Role, Seat, register, seats


class DebateProtocol(SpeechProtocolConfig):
    """Two debaters argue opposite answers for a number of rounds."""

    kind: Literal["debate"] = "debate"
    turns: Turns = "simultaneous"
    """Simultaneous: each sees only earlier rounds. Sequential: B also sees A's current speech."""
    swap: bool = True
    """Also run with the answers' speakers exchanged, to cancel speaker-order effects."""

    def seats(self) -> list[Seat]:
        return seats(Role.DEBATER, 2)

    def assignments(self) -> list[dict[str, int]]:
        a, b = (s.slot for s in self.seats())
        return [{a: 0, b: 1}, {a: 1, b: 0}] if self.swap else [{a: 0, b: 1}]


def build(name: str, config: ProtocolConfig) -> Any:
    assert isinstance(config, DebateProtocol)
    advocate = advocate_of(name, config, Role.DEBATER)
    return rounds_graph(config, config.seats(), advocate, turns=config.turns)


register(DebateProtocol, build, "two debaters argue opposite answers")
