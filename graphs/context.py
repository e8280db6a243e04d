"""What protocol graphs need at run time: the Store, backends and role objects.

Graph state holds only ids and counters; everything large lives in the Store.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from langgraph.types import RetryPolicy
from sqlalchemy.exc import OperationalError

from agents.debater import Advocate
from agents.judge import PromptedJudge
from oversight.backends.base import Backend, BackendError
from oversight.store import Store


@dataclass(frozen=True)
class JudgeBinding:
    """A judge and the backend that serves its model."""

    judge: PromptedJudge
    backend: Backend


@dataclass
class GraphContext:
    store: Store
    judges: list[JudgeBinding]
    advocates: dict[str, tuple[Advocate, Backend, str]] = field(default_factory=dict)
    """Per protocol name: the advocate, its backend and its model reference."""


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
