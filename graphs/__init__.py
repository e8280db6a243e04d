"""LangGraph protocol graphs and the judge-ensemble subgraph."""

from graphs.context import GraphContext, JudgeBinding
from graphs.judges import build_judge_ensemble
from graphs.protocols import DebateState, initial_state

__all__ = [
    "DebateState",
    "GraphContext",
    "JudgeBinding",
    "build_judge_ensemble",
    "initial_state",
]
