"""The backend protocol: how text is generated and how a judge scores answer labels."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

Message = dict[str, str]
"""A chat message: ``{"role": "system" | "user" | "assistant", "content": ...}``."""


@dataclass(frozen=True)
class SamplingParams:
    """Sampling settings of one generation request; temperature 0 means greedy."""

    max_new_tokens: int = 128
    temperature: float = 0.0
    top_p: float = 1.0
    seed: int | None = None


@dataclass(frozen=True)
class GenerateRequest:
    """One chat completion request."""

    messages: list[Message]
    params: SamplingParams = field(default_factory=SamplingParams)


@dataclass(frozen=True)
class Completion:
    """Generated text with its token counts and wall-clock latency."""

    text: str
    prompt_tokens: int
    completion_tokens: int
    latency_s: float


@dataclass(frozen=True)
class ScoreRequest:
    """Score the next token after a chat prompt over answer labels.

    The prompt is the chat with the generation prompt added, then ``assistant_prefix``
    (for example ``"Answer: "``); the backend reads the log-probability of each label's
    first token at that position.
    """

    messages: list[Message]
    labels: list[str]
    assistant_prefix: str = ""


@dataclass(frozen=True)
class ChoiceScores:
    """Probabilities renormalized over the labels.

    ``logprobs`` holds the raw next-token log-probability of each label (``None`` where the
    backend could not see it, e.g. outside an API's top-k). ``probs`` is ``None`` when any
    label is missing: a number is never invented.
    """

    labels: list[str]
    logprobs: list[float | None]
    probs: list[float] | None

    @property
    def missing(self) -> list[str]:
        return [lab for lab, lp in zip(self.labels, self.logprobs, strict=True) if lp is None]


class BackendError(RuntimeError):
    """A failure of a backend call; ``transient`` says whether a retry may succeed."""

    def __init__(self, message: str, *, transient: bool = False) -> None:
        super().__init__(message)
        self.transient = transient


class ContextOverflowError(BackendError):
    """A prompt that does not fit the model's context, refused before it reaches the model.

    Past its context a model does not fail, it reads positions it was never trained on, so
    every backend refuses such a prompt with this error; the speaker or judge that built the
    prompt then applies its context policy (fail, or drop the earliest rounds and try again).
    """

    def __init__(
        self, model: str, *, prompt_tokens: int, new_tokens: int, context_tokens: int
    ) -> None:
        super().__init__(
            f"{model}: prompt of {prompt_tokens} tokens + max_new_tokens {new_tokens} exceeds "
            f"the model's context of {context_tokens} tokens"
        )
        self.model = model
        self.prompt_tokens = prompt_tokens
        self.new_tokens = new_tokens
        self.context_tokens = context_tokens


def check_context(
    model: str, prompt_tokens: int, new_tokens: int, context_tokens: int | None
) -> None:
    """Raise :class:`ContextOverflowError` unless the prompt and the tokens to generate fit
    (an unknown context, None, is not checked here: the server checks it)."""
    if context_tokens is not None and prompt_tokens + new_tokens > context_tokens:
        raise ContextOverflowError(
            model,
            prompt_tokens=prompt_tokens,
            new_tokens=new_tokens,
            context_tokens=context_tokens,
        )


class BackendStartError(BackendError):
    """A backend that cannot start at all (a model that does not load, an engine that fails
    to initialise): every debate would fail the same way, so the run stops at once."""


@runtime_checkable
class Backend(Protocol):
    """What every backend implements. Calls are async and safe to issue concurrently."""

    name: str

    async def generate(self, requests: list[GenerateRequest]) -> list[Completion]: ...

    async def score_choices(self, requests: list[ScoreRequest]) -> list[ChoiceScores]: ...

    async def aclose(self) -> None: ...
