"""LangGraph protocol graphs and the judge-ensemble subgraph."""

from graphs.context import GraphContext, JudgeBinding
from graphs.judges import build_judge_ensemble
from graphs.protocols import DebateState, build_protocol_graph, debate_speakers

__all__ = [
    "DebateState",
    "GraphContext",
    "JudgeBinding",
    "build_judge_ensemble",
    "build_protocol_graph",
    "debate_speakers",
]
