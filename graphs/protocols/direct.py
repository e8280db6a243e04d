"""Direct QA: the judges answer alone, the naive baseline."""

from __future__ import annotations

from typing import Any, Literal

from graphs.protocols.rounds import judges_only_graph
from oversight.protocol_registry import ProtocolConfig, register


class DirectProtocol(ProtocolConfig):
    """The judges answer alone: the naive baseline."""

    kind: Literal["direct"] = "direct"


def build(name: str, config: ProtocolConfig) -> Any:
    return judges_only_graph()


register(DirectProtocol, build, "the judges answer alone (naive baseline)")
