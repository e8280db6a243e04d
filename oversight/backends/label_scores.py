"""Turning answer-label log-probabilities, as servers return them, into ChoiceScores.

vLLM and OpenAI-compatible servers hand back log-probs of a few tokens (the requested label
tokens, or the top k). A label that is not among them has no number; it is recorded as
missing (``None``) and the probabilities are left undefined, never filled with a guess such
as "the k-th log-prob" or zero.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from oversight.backends.base import ChoiceScores

__all__ = ["choice_scores", "renormalize", "scores_from_token_logprobs"]


def renormalize(logprobs: Sequence[float | None]) -> list[float] | None:
    """Softmax over the labels' log-probs; ``None`` if any is missing or none is finite.

    Subtracting the largest log-prob first keeps labels far down the distribution (log-probs of
    -30 and below) from underflowing to 0/0.
    """
    if not logprobs or any(lp is None or math.isnan(lp) for lp in logprobs):
        return None
    values = [float(lp) for lp in logprobs if lp is not None]
    top = max(values)
    if math.isinf(top):
        return None
    weights = [math.exp(v - top) for v in values]
    total = sum(weights)
    return [w / total for w in weights]


def choice_scores(labels: Sequence[str], logprobs: Sequence[float | None]) -> ChoiceScores:
    """ChoiceScores whose ``probs`` are None exactly when a label's log-prob is unknown."""
    return ChoiceScores(labels=list(labels), logprobs=list(logprobs), probs=renormalize(logprobs))


def scores_from_token_logprobs(
    labels: Sequence[str], label_ids: Sequence[int], by_token: Mapping[int, float]
) -> ChoiceScores:
    """Read each label's token in a ``token id -> log-prob`` map (missing ids stay None)."""
    return choice_scores(labels, [by_token.get(tid) for tid in label_ids])
