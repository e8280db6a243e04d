"""Helpers for running whole experiments on the tiny offline model."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from oversight.backends import TransformersBackend
from oversight.backends.base import (
    Backend,
    BackendError,
    ChoiceScores,
    Completion,
    GenerateRequest,
    ScoreRequest,
)
from oversight.config import ExperimentConfig, parse_config


class Recording:
    """Wraps a real backend: records every request and can inject a fault on demand.

    ``fail_when(request)`` returning an exception makes that call raise it; the real backend
    still does all real work otherwise.
    """

    def __init__(self, inner: Backend, fail_when: Callable[[Any], Exception | None] | None = None):
        self.inner = inner
        self.name = inner.name
        self.generated: list[GenerateRequest] = []
        self.scored: list[ScoreRequest] = []
        self.fail_when = fail_when

    def _check(self, request: Any) -> None:
        if self.fail_when is not None and (err := self.fail_when(request)) is not None:
            raise err

    async def generate(self, requests: list[GenerateRequest]) -> list[Completion]:
        for r in requests:
            self._check(r)
        self.generated += requests
        return await self.inner.generate(requests)

    async def score_choices(self, requests: list[ScoreRequest]) -> list[ChoiceScores]:
        for r in requests:
            self._check(r)
        self.scored += requests
        return await self.inner.score_choices(requests)

    async def aclose(self) -> None:
        await self.inner.aclose()


def tiny_config(model: Path, store_url: str, **overrides: Any) -> ExperimentConfig:
    gen = {"max_new_tokens": 8, "temperature": 0.0}
    data: dict[str, Any] = {
        "name": "tiny",
        "seed": 0,
        "store": store_url,
        "concurrency": 8,
        "data": {"source": "arc", "split": "test", "limit": 2},
        "models": {"m": {"model": str(model), "max_batch_size": 8}},
        "protocols": {
            "debate": {"kind": "debate", "model": "m", "rounds": 2, "generation": gen},
            "consultancy": {"kind": "consultancy", "model": "m", "rounds": 2, "generation": gen},
            "direct": {"kind": "direct"},
        },
        "judges": [
            {"name": "plain", "model": "m", "prompt": "judge"},
            {"name": "skeptic", "model": "m", "prompt": "judge_skeptic"},
        ],
    }
    data.update(overrides)
    return parse_config(data, "test")


@pytest.fixture
def make_recording(
    tiny_chat_model: Path,
) -> Callable[..., tuple[Callable[..., Backend], list[Recording]]]:
    """A backend factory for Runner that wraps each real backend in a Recording."""

    def factory_maker(
        fail_when: Callable[[Any], Exception | None] | None = None,
    ) -> tuple[Callable[..., Backend], list[Recording]]:
        made: list[Recording] = []

        def factory(alias: str, cfg: Any) -> Backend:
            rec = Recording(TransformersBackend(cfg.model, name=alias, max_batch_size=8), fail_when)
            made.append(rec)
            return rec

        return factory, made

    return factory_maker


__all__ = ["BackendError", "Recording", "tiny_config"]
