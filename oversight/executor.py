"""The one executor behind ``run``, ``replay`` and the pipeline's debate stage.

It owns what every command that drives graphs needs, written once: the backend cache (one
backend per model alias), starting the backends before any debate (a backend that cannot
start stops everything at once with one error, and nothing is marked failed), bounded
concurrency, per-debate failure handling (one debate's failure never stops the others; the
reason and traceback go to the caller's recorder) and progress.
"""

from __future__ import annotations

import asyncio
import logging
import traceback
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sized
from dataclasses import dataclass, field

from oversight.backends.base import Backend, BackendStartError
from oversight.backends.factory import make_backend
from oversight.config import ModelConfig
from oversight.store import Debate
from oversight.store.store import mask_secrets

log = logging.getLogger(__name__)

BackendFactory = Callable[[str, ModelConfig], Backend]
Progress = Callable[[int, int], None]

REMEDIES: dict[str, str] = {
    "transformers": "check that the model alias, path or hub id exists offline and fits in memory",
    "vllm": "check free memory (on CPU builds VLLM_CPU_KVCACHE_SPACE, in GiB, sizes the KV "
    "cache; on GPUs gpu_memory_utilization and max_model_len), or serve the model with "
    'backend = "transformers"',
    "openai": "check base_urls and that the server is up and serves the model",
}


@dataclass
class Outcome:
    """What a batch of debates did."""

    completed: int = 0
    failed: int = 0
    skipped: int = 0
    """Debates ``work`` declined (returned False), e.g. taken by another process."""
    errors: dict[str, str] = field(default_factory=dict)
    """Debate id -> one-line reason, for each failure."""


class Executor:
    """Runs one coroutine per debate over shared, started backends."""

    def __init__(
        self,
        models: Mapping[str, ModelConfig],
        *,
        concurrency: int,
        backend_factory: BackendFactory | None = None,
    ) -> None:
        self.models = models
        self.concurrency = concurrency
        self._factory = backend_factory or make_backend
        self._backends: dict[str, Backend] = {}

    def backend(self, alias: str) -> Backend:
        """The backend of a model alias, made once and shared by every node that uses it."""
        if alias not in self._backends:
            self._backends[alias] = self._factory(alias, self.models[alias])
        return self._backends[alias]

    async def start(self, aliases: Iterable[str]) -> None:
        """Start (load, or connect) every backend now; one that cannot start is a
        :class:`BackendStartError` naming the model and what to check."""
        for alias in dict.fromkeys(aliases):
            backend = self.backend(alias)
            starter = getattr(backend, "start", None) or getattr(backend, "load", None)
            if starter is None:
                continue
            try:
                await starter()
            except BackendStartError:
                raise
            except Exception as err:
                cfg = self.models[alias]
                log.debug(
                    "models.%s failed to start:\n%s", alias, mask_secrets(traceback.format_exc())
                )
                raise BackendStartError(
                    mask_secrets(
                        f"models.{alias} ({cfg.model}, backend {cfg.backend}) could not start: "
                        f"{type(err).__name__}: {err}; {REMEDIES.get(cfg.backend, '')}"
                    )
                ) from err

    async def run(
        self,
        debates: Iterable[Debate],
        work: Callable[[Debate], Awaitable[bool | None]],
        *,
        on_failure: Callable[[Debate, str, str], None] | None = None,
        progress: Progress | None = None,
        done: int = 0,
        total: int | None = None,
    ) -> Outcome:
        """``work`` for each debate, at most ``concurrency`` at once; ``work`` returning False
        declines a debate (counted as skipped).

        ``concurrency`` workers take the debates in order from one shared iterator, so the
        coroutines alive at once are bounded by it, not by the number of debates (one task
        per debate would hold 100,000 suspended tasks for a 100,000-debate run); ``debates``
        may be a lazy iterable (then pass ``total`` for progress).

        A failure of one debate is reported to ``on_failure(debate, reason, traceback)`` and
        the others go on; a :class:`BackendStartError` cancels everything and propagates.
        """
        outcome = Outcome()
        sized = len(debates) if isinstance(debates, Sized) else None
        total = (sized or 0) + done if total is None else total
        finished = done
        queue = iter(debates)

        async def one(debate: Debate) -> None:
            nonlocal finished
            try:
                if await work(debate) is False:
                    outcome.skipped += 1
                else:
                    outcome.completed += 1
            except BackendStartError:
                raise
            except Exception as err:  # one debate's failure must not stop the others
                # Errors quote the URLs they failed on: no password goes further.
                reason = mask_secrets(f"{type(err).__name__}: {err}")
                trace = mask_secrets(traceback.format_exc())
                log.debug("debate %s failed:\n%s", debate.id, trace)
                if on_failure is not None:
                    on_failure(debate, reason, trace)
                outcome.failed += 1
                outcome.errors[debate.id] = reason
            finished += 1
            if progress:
                progress(finished, total)

        async def worker() -> None:
            for debate in queue:  # shared: each worker takes the next debate not yet taken
                await one(debate)

        if progress:
            progress(finished, total)
        workers = self.concurrency if sized is None else min(self.concurrency, sized)
        try:
            async with asyncio.TaskGroup() as group:
                for _ in range(workers):
                    group.create_task(worker())
        except BaseExceptionGroup as grouped:
            start = grouped.subgroup(BackendStartError)
            if start is not None:
                raise start.exceptions[0] from None
            raise
        return outcome

    async def aclose(self) -> None:
        for b in self._backends.values():
            await b.aclose()
        self._backends.clear()
