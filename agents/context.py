"""Fitting a transcript to a model's context, by the model's ``context_policy``.

Backends refuse a prompt longer than the model's context
(:class:`~oversight.backends.base.ContextOverflowError`) rather than let the model read
positions it was never trained on. What then happens is the experiment's choice, never a
silent cut:

- ``fail``: the debate fails, its reason naming who was speaking or judging, the model, its
  context length and the prompt length, and how to choose the other policy;
- ``drop_oldest``: the earliest rounds are left out of what that speaker or judge reads, one
  round at a time, until the prompt fits; the prompt says which rounds are missing
  (:func:`omission_note`), and the rounds dropped are recorded on the Turn or Judgment
  (:class:`ContextFit`, stored in its ``context`` field, exported and counted by ``status``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any, TypeVar

from oversight.backends.base import BackendError, ContextOverflowError
from oversight.config import ContextPolicy
from oversight.store.tables import Turn

T = TypeVar("T")

__all__ = ["ContextFit", "ContextLimitError", "fit_to_context", "omission_note"]


class ContextLimitError(BackendError):
    """A prompt that cannot be made to fit its model's context under the configured policy;
    it fails that debate (never transient: the same prompt would not fit again)."""


@dataclass(frozen=True)
class ContextFit:
    """What ``drop_oldest`` did to one prompt: stored as a Turn's or Judgment's ``context``."""

    policy: ContextPolicy
    dropped_rounds: list[int]
    """Rounds left out (0-based, as ``Turn.round``), earliest first."""
    context_tokens: int
    """The model's context length."""
    prompt_tokens: int
    """Length of the whole prompt, before any round was dropped."""
    new_tokens: int
    """Tokens the request asks to generate (0 for a judge's score)."""

    def record(self) -> dict[str, Any]:
        return asdict(self)


def omission_note(rounds: Sequence[int]) -> str:
    """The line a reader sees where rounds were left out (system text, never model text)."""
    shown = [r + 1 for r in rounds]
    which = f"Round {shown[0]} is" if len(shown) == 1 else f"Rounds {shown[0]}-{shown[-1]} are"
    return f"[{which} left out here: the whole transcript is longer than the model's context.]"


def _remedy(policy: ContextPolicy) -> str:
    if policy == "fail":
        return (
            'context_policy = "fail"; set context_policy = "drop_oldest" on the model to drop '
            "the earliest rounds instead, or use a model with a longer context"
        )
    return "no earlier round is left to drop; shorten the prompt or use a longer context"


async def fit_to_context(
    policy: ContextPolicy,
    turns: Sequence[Turn],
    attempt: Callable[[Sequence[Turn], Sequence[int]], Awaitable[T]],
    who: str,
) -> tuple[T, ContextFit | None]:
    """``attempt(visible_turns, dropped_rounds)``, under ``policy``.

    The first attempt sees every turn. When the backend refuses its prompt as too long,
    ``fail`` raises :class:`ContextLimitError`; ``drop_oldest`` tries again without the
    earliest remaining round, until a prompt fits (returned with its :class:`ContextFit`) or
    no round is left to drop (:class:`ContextLimitError`). Returns the result and None when
    nothing was dropped.
    """
    rounds = sorted({t.round for t in turns})
    first: ContextOverflowError | None = None
    for cut in range(len(rounds) + 1):
        dropped = rounds[:cut]
        visible = [t for t in turns if t.round not in dropped]
        try:
            result = await attempt(visible, dropped)
        except ContextOverflowError as err:
            first = first or err
            if policy == "fail" or cut == len(rounds):
                extra = f" with rounds {[r + 1 for r in dropped]} dropped" if dropped else ""
                raise ContextLimitError(
                    f"{who}: the prompt does not fit the model's context{extra}: {err} "
                    f"({_remedy(policy)})"
                ) from err
            continue
        if first is None:
            return result, None
        fit = ContextFit(
            policy=policy,
            dropped_rounds=list(dropped),
            context_tokens=first.context_tokens,
            prompt_tokens=first.prompt_tokens,
            new_tokens=first.new_tokens,
        )
        return result, fit
    raise AssertionError("unreachable: the last attempt returns or raises")
