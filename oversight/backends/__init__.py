"""Backends: how text is generated and how judges score answer labels."""

from oversight.backends.base import (
    Backend,
    BackendError,
    BackendStartError,
    ChoiceScores,
    Completion,
    ContextOverflowError,
    GenerateRequest,
    Message,
    SamplingParams,
    ScoreRequest,
)
from oversight.backends.openai_backend import OpenAIBackend
from oversight.backends.transformers_backend import BackendStats, TransformersBackend
from oversight.backends.vllm_backend import VLLMBackend

__all__ = [
    "Backend",
    "BackendError",
    "BackendStartError",
    "BackendStats",
    "ChoiceScores",
    "Completion",
    "ContextOverflowError",
    "GenerateRequest",
    "Message",
    "OpenAIBackend",
    "SamplingParams",
    "ScoreRequest",
    "TransformersBackend",
    "VLLMBackend",
]
