"""Consultancy (Michael et al. 2023): one consultant argues an assigned answer alone."""

from __future__ import annotations

from typing import Any, Literal

from graphs.protocols.rounds import SpeechProtocolConfig, advocate_of, rounds_graph
from oversight.protocol_registry import ProtocolConfig, Role, Seat, register


class ConsultancyProtocol(SpeechProtocolConfig):
    """One consultant argues an assigned answer; run once for each answer."""

    kind: Literal["consultancy"] = "consultancy"

    def seats(self) -> list[Seat]:
        return [Seat(Role.CONSULTANT)]

    def assignments(self) -> list[dict[str, int]]:
        (seat,) = self.seats()
        return [{seat.slot: 0}, {seat.slot: 1}]


def build(name: str, config: ProtocolConfig) -> Any:
    assert isinstance(config, ConsultancyProtocol)
    advocate = advocate_of(name, config, Role.CONSULTANT)
    return rounds_graph(config, config.seats(), advocate)


register(ConsultancyProtocol, build, "one consultant argues an assigned answer, once per answer")
