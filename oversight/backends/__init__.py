"""Backends: how text is generated and how judges score answer labels."""

from oversight.backends.base import (
    Backend,
    BackendError,
    ChoiceScores,
    Completion,
    GenerateRequest,
    Message,
    SamplingParams,
    ScoreRequest,
)
from oversight.backends.transformers_backend import BackendStats, TransformersBackend

__all__ = [
    "Backend",
    "BackendError",
    "BackendStats",
    "ChoiceScores",
    "Completion",
    "GenerateRequest",
    "Message",
    "SamplingParams",
    "ScoreRequest",
    "TransformersBackend",
]
