"""What protocol graphs need at run time, passed as LangGraph runtime context.

Graphs are compiled once per protocol, with no run-time objects in closures; every node reads
the Store, the judges and the backends from ``runtime.context`` (a :class:`GraphContext`).
Graph state holds only ids and counters; everything large lives in the Store.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from langgraph.types import RetryPolicy
from sqlalchemy.exc import OperationalError

from agents.judge import Judge
from oversight.backends.base import Backend, BackendError
from oversight.config import ModelConfig
from oversight.store import Debate, Question, Store


@dataclass(frozen=True)
class JudgeBinding:
    """A judge and the backend that serves its model."""

    judge: Judge
    backend: Backend


FACTS_CACHE_SIZE = 4096
"""Debates whose (debate, question) rows a context keeps: enough for every debate in flight."""


@dataclass
class GraphContext:
    store: Store
    judges: list[JudgeBinding]
    backend: Callable[[str], Backend] | None = None
    """The backend of a model alias (shared, started by the executor); ``None`` in a context
    that binds judges only (replay), where no speech can be generated."""
    models: Mapping[str, ModelConfig] = field(default_factory=dict)
    """Models by alias, for what a speaker's model decides (context policy, reference)."""
    seed: int = 0
    _facts: OrderedDict[str, tuple[Debate, Question]] = field(
        default_factory=OrderedDict, repr=False
    )
    _made: dict[str, Any] = field(default_factory=dict, repr=False)

    def speaker_backend(self, alias: str) -> Backend:
        if self.backend is None:
            raise RuntimeError("this context binds judges only: no speaker can be called")
        return self.backend(alias)

    def once(self, key: str, make: Callable[[], Any]) -> Any:
        """An object a protocol's nodes share for the whole run (an advocate), made once."""
        if key not in self._made:
            self._made[key] = make()
        return self._made[key]

    def facts(self, debate_id: str) -> tuple[Debate, Question]:
        """A debate's row and its question, read once per debate, not once per node.

        What nodes read of them (question, assignment, protocol) does not change while a
        debate runs except through :meth:`remember` (an open protocol's chosen answer), so
        every speech and judgment of a debate shares one read; the cache is bounded (LRU) so
        memory stays flat however many debates a run has.
        """
        found = self._facts.get(debate_id)
        if found is not None:
            self._facts.move_to_end(debate_id)
            return found
        debate = self.store.debate(debate_id)
        return self.remember(debate, self.store.question(debate.question_id))

    def remember(self, debate: Debate, question: Question) -> tuple[Debate, Question]:
        """Keep a debate's rows a caller already holds (the runner plans them in memory)."""
        found = (debate, question)
        self._facts[debate.id] = found
        self._facts.move_to_end(debate.id)
        if len(self._facts) > FACTS_CACHE_SIZE:
            self._facts.popitem(last=False)
        return found


def is_transient(err: Exception) -> bool:
    """What a node retries: a Store that is briefly locked by another process, or a dropped
    database connection. A backend's errors are never retried here: each backend owns its
    retries (the openai backend retries with backoff and replica failover), so one request
    is tried at most ``max_retries + 1`` times, not that many times the graph's attempts."""
    if isinstance(err, BackendError):
        return False
    if isinstance(err, OperationalError):
        return "locked" in str(err) or "could not connect" in str(err) or err.connection_invalidated
    return isinstance(err, TimeoutError | ConnectionError)


RETRY = RetryPolicy(max_attempts=4, initial_interval=1.0, retry_on=is_transient)
