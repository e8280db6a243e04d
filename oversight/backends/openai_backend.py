"""Any OpenAI-compatible server, first of all ``vllm serve``, through the official async client.

Debaters use the chat-completions endpoint as any OpenAI-compatible server offers it.

Judges need the next-token log-probs of the answer labels right after the prompt the other
backends build: the chat with the generation prompt, then the assistant prefix
(``"Answer: "``). The request sends the chat plus an assistant message holding the prefix,
with vLLM's ``continue_final_message=True, add_generation_prompt=False``: the server's own
chat template then renders the assistant turn open, ending in the prefix, which for ChatML
templates (SmolLM2, Qwen) and most others is the same text, token for token, as
"generation prompt + prefix" (the tests check this against the server's ``/tokenize``).
When the model's tokenizer is available locally, the labels' token ids are sent as vLLM's
``logprob_token_ids`` and come back as ``token_id:N`` (``return_tokens_as_token_ids``), so
each label has an exact log-prob whatever its rank. Without a tokenizer the labels are looked
up by text among the top 20; a label outside them is recorded as missing, never guessed.

Failures: 429, 5xx, timeouts and lost connections are transient; they are retried here with
exponential backoff and jitter (honouring ``Retry-After``), each retry on the least-loaded
replica other than the one that failed. Retries have this one owner: when they run out the
BackendError is final (not transient), so nothing above retries the request again (the
graphs' retry policy never retries a backend's error). Any other 4xx is a
property of the request (too long, unknown model, bad key): it fails at once,
non-transient, and the runner records it as that debate's failure.

Message contents are untrusted: the server templates and tokenizes them itself, with special
tokens on, so they are sent through
:func:`~oversight.backends.chat_prompts.neutralize_control_tokens` (the local tokenizer's exact
control tokens when it loads, the common chat formats' always): a speech that writes
``<|im_end|>`` reaches the model as text, never as the end of its turn.

The API key is read from the environment variable named in the config, when the client is
made; it is never stored on this object's public attributes, in the Store or in a log.
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from oversight.backends.base import (
    BackendError,
    ChoiceScores,
    Completion,
    GenerateRequest,
    Message,
    ScoreRequest,
)
from oversight.backends.chat_prompts import ChatPrompter, neutralize_messages
from oversight.backends.label_scores import choice_scores, scores_from_token_logprobs

__all__ = ["OpenAIBackend", "ReplicaStats", "classify_error"]

log = logging.getLogger(__name__)

T = TypeVar("T")

TOP_LOGPROBS = 20
"""The most top log-probs the OpenAI API (and vLLM's default ``--max-logprobs``) returns."""
TOKEN_ID_PREFIX = "token_id:"
MAX_RETRY_AFTER_S = 60.0


@dataclass
class ReplicaStats:
    """Per base URL: how requests were spread and how many attempts failed."""

    url: str
    requests: int = 0
    failures: int = 0
    in_flight: int = 0


@dataclass
class _Replica:
    stats: ReplicaStats
    client: Any
    """``openai.AsyncOpenAI`` bound to one base URL (and to the event loop that made it)."""


def classify_error(exc: BaseException, where: str) -> tuple[BackendError, float | None]:
    """The BackendError for an exception of the openai client, and the server's Retry-After.

    Transient: 429 (rate limit, overload), 408 and other timeouts, 5xx, and connection
    errors. Everything else, above all the other 4xx, is not: a retry would fail again.
    """
    import openai

    if isinstance(exc, BackendError):
        return exc, None
    if isinstance(exc, openai.APITimeoutError):
        return BackendError(f"{where}: request timed out", transient=True), None
    if isinstance(exc, openai.APIConnectionError):
        return BackendError(f"{where}: connection failed: {exc}", transient=True), None
    if isinstance(exc, openai.APIStatusError):
        status = exc.status_code
        transient = status in (408, 429) or status >= 500
        retry_after = _retry_after(exc.response.headers.get("retry-after"))
        message = f"{where}: HTTP {status}: {_short(exc.message)}"
        return BackendError(message, transient=transient), retry_after
    return BackendError(f"{where}: {type(exc).__name__}: {_short(str(exc))}"), None


def _retry_after(value: str | None) -> float | None:
    try:
        seconds = float(value) if value is not None else None
    except ValueError:  # an HTTP date: rare from model servers, fall back to backoff
        return None
    return None if seconds is None or seconds < 0 else min(seconds, MAX_RETRY_AFTER_S)


def _safe_messages(messages: list[Message], prompter: ChatPrompter | None) -> list[Message]:
    """The messages as sent: control tokens neutralised, exactly as the local backends do."""
    return prompter.safe_messages(messages) if prompter else neutralize_messages(messages)


def _short(text: str, limit: int = 500) -> str:
    return text if len(text) <= limit else text[:limit] + "..."


class OpenAIBackend:
    """A model behind one or several OpenAI-compatible base URLs; see the module docstring."""

    def __init__(
        self,
        model: str,
        *,
        base_urls: list[str],
        name: str | None = None,
        served_model: str | None = None,
        api_key_env: str | None = None,
        timeout_s: float = 120.0,
        max_retries: int = 3,
        tokenizer: str | None = None,
        backoff_s: float = 0.5,
        max_backoff_s: float = 8.0,
        cache_dir: Path | None = None,
    ) -> None:
        if not base_urls:
            raise ValueError("base_urls must name at least one server")
        if max_retries < 0:
            raise ValueError("max_retries must not be negative")
        self.model_name = model
        self.name = name or model
        self.base_urls = [u.rstrip("/") for u in base_urls]
        self.served_model = served_model or model
        self.api_key_env = api_key_env
        self.timeout_s = timeout_s
        self.max_retries = max_retries
        self.tokenizer_name = tokenizer or model
        self.backoff_s = backoff_s
        self.max_backoff_s = max_backoff_s
        self.cache_dir = cache_dir
        self.retries = 0
        """Attempts that failed transiently and were retried."""
        self._stats = [ReplicaStats(u) for u in self.base_urls]
        self._replicas: list[_Replica] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._prompter: ChatPrompter | None = None
        self._prompter_loaded = False
        self._prompter_lock = threading.Lock()
        self._closed = False

    # -- public API -------------------------------------------------------------------

    @property
    def replica_stats(self) -> list[ReplicaStats]:
        return list(self._stats)

    async def generate(self, requests: list[GenerateRequest]) -> list[Completion]:
        """Chat completions, each request sent on its own (the server batches them)."""
        prompter = await self._load_prompter()
        return list(await asyncio.gather(*(self._generate_one(r, prompter) for r in requests)))

    async def score_choices(self, requests: list[ScoreRequest]) -> list[ChoiceScores]:
        """Label probabilities from the server's log-probs of the first answer token."""
        prompter = await self._load_prompter()
        return list(await asyncio.gather(*(self._score_one(r, prompter) for r in requests)))

    async def aclose(self) -> None:
        """Close the HTTP clients (those of the running loop; others went with their loop)."""
        self._closed = True
        replicas, self._replicas = self._replicas, None
        if replicas and self._loop is asyncio.get_running_loop():
            for replica in replicas:
                await replica.client.close()

    # -- requests -----------------------------------------------------------------------

    async def _generate_one(
        self, request: GenerateRequest, prompter: ChatPrompter | None
    ) -> Completion:
        p = request.params
        started = time.perf_counter()
        kwargs: dict[str, Any] = {
            "model": self.served_model,
            "messages": _safe_messages(request.messages, prompter),
            "max_tokens": p.max_new_tokens,
            "temperature": p.temperature,
            "top_p": p.top_p,
        }
        if p.seed is not None:
            kwargs["seed"] = p.seed
        response = await self._call(lambda client: client.chat.completions.create(**kwargs))
        if not response.choices:
            raise BackendError(f"{self.name}: the server returned no choices")
        usage = response.usage
        return Completion(
            text=response.choices[0].message.content or "",
            prompt_tokens=usage.prompt_tokens if usage else 0,
            completion_tokens=usage.completion_tokens if usage else 0,
            latency_s=time.perf_counter() - started,
        )

    async def _score_one(
        self, request: ScoreRequest, prompter: ChatPrompter | None
    ) -> ChoiceScores:
        messages = _safe_messages(request.messages, prompter)
        extra: dict[str, Any] = {}
        if request.assistant_prefix:
            messages.append({"role": "assistant", "content": request.assistant_prefix})
            extra |= {"add_generation_prompt": False, "continue_final_message": True}
        kwargs: dict[str, Any] = {
            "model": self.served_model,
            "messages": messages,
            "max_tokens": 1,
            "temperature": 0.0,
            "logprobs": True,
        }
        label_ids: list[int] | None = None
        if prompter is not None:
            try:
                label_ids = prompter.label_ids(request)
            except Exception as exc:
                raise BackendError(f"{self.name}: {exc}") from exc
            extra |= {"logprob_token_ids": label_ids, "return_tokens_as_token_ids": True}
        else:
            kwargs["top_logprobs"] = TOP_LOGPROBS
        if extra:
            kwargs["extra_body"] = extra
        response = await self._call(lambda client: client.chat.completions.create(**kwargs))
        content = (
            response.choices[0].logprobs.content
            if response.choices and response.choices[0].logprobs
            else None
        )
        if not content:
            return choice_scores(request.labels, [None] * len(request.labels))
        first = content[0]
        entries = [
            (first.token, first.logprob),
            *((t.token, t.logprob) for t in first.top_logprobs or []),
        ]
        if label_ids is not None:
            by_id = {
                int(token.removeprefix(TOKEN_ID_PREFIX)): float(lp)
                for token, lp in entries
                if token.startswith(TOKEN_ID_PREFIX) and lp is not None
            }
            return scores_from_token_logprobs(request.labels, label_ids, by_id)
        by_text = {token: float(lp) for token, lp in entries if lp is not None}
        after_space = not request.assistant_prefix or request.assistant_prefix[-1].isspace()
        logprobs: list[float | None] = []
        for label in request.labels:
            spellings = [label, " " + label] if after_space else [" " + label, label]
            logprobs.append(next((by_text[s] for s in spellings if s in by_text), None))
        return choice_scores(request.labels, logprobs)

    async def _call(self, send: Callable[[Any], Awaitable[T]]) -> T:
        """Send with retries on transient errors, moving to another replica after a failure."""
        replicas = self._ensure_clients()
        failed: _Replica | None = None
        attempt = 0
        while True:
            replica = self._pick(replicas, avoid=failed)
            replica.stats.requests += 1
            replica.stats.in_flight += 1
            try:
                return await send(replica.client)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                err, retry_after = classify_error(exc, f"{self.name} @ {replica.stats.url}")
                replica.stats.failures += 1
                if not err.transient or attempt >= self.max_retries:
                    if err.transient:
                        err = BackendError(f"{err} (gave up after {attempt + 1} attempts)")
                    raise err from exc
            finally:
                replica.stats.in_flight -= 1
            delay = self._backoff(attempt, retry_after)
            log.debug(
                "%s: transient failure on %s, retry %d in %.2f s: %s",
                self.name,
                replica.stats.url,
                attempt + 1,
                delay,
                err,
            )
            self.retries += 1
            attempt += 1
            failed = replica
            await asyncio.sleep(delay)

    def _backoff(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return retry_after
        # Full jitter on the upper half: replicas hit by the same outage do not retry in step.
        ceiling = min(self.max_backoff_s, self.backoff_s * 2**attempt)
        return ceiling * (0.5 + random.random() / 2)

    @staticmethod
    def _pick(replicas: list[_Replica], avoid: _Replica | None) -> _Replica:
        """The least-loaded replica (fewest in flight, then fewest sent), another if possible."""
        pool = [r for r in replicas if r is not avoid] or replicas
        return min(pool, key=lambda r: (r.stats.in_flight, r.stats.requests))

    # -- clients and tokenizer ------------------------------------------------------------

    def _ensure_clients(self) -> list[_Replica]:
        """HTTP clients for the running loop; a new loop (another ``asyncio.run``) gets new ones."""
        if self._closed:
            raise BackendError(f"{self.name}: backend closed")
        loop = asyncio.get_running_loop()
        if self._replicas is not None and self._loop is loop:
            return self._replicas
        import openai

        api_key = "EMPTY"  # vLLM without --api-key accepts any key; the client demands one
        if self.api_key_env:
            api_key = os.environ.get(self.api_key_env, "")
            if not api_key:
                raise BackendError(
                    f"{self.name}: environment variable {self.api_key_env} (api_key_env) is not set"
                )
        self._loop = loop
        self._replicas = [
            _Replica(
                stats,
                openai.AsyncOpenAI(
                    base_url=stats.url,
                    api_key=api_key,
                    timeout=self.timeout_s,
                    max_retries=0,  # retries are ours: only transient errors, across replicas
                ),
            )
            for stats in self._stats
        ]
        return self._replicas

    async def _load_prompter(self) -> ChatPrompter | None:
        if not self._prompter_loaded:
            await asyncio.to_thread(self._load_prompter_sync)
        return self._prompter

    def _load_prompter_sync(self) -> None:
        with self._prompter_lock:
            if self._prompter_loaded:
                return
            try:
                self._prompter = ChatPrompter.load(
                    self.tokenizer_name, name=self.name, cache_dir=self.cache_dir
                )
            except Exception as exc:
                log.warning(
                    "%s: no local tokenizer for %r (%s); judges will look answer labels up "
                    "by text among the top %d log-probs, and only the common chat formats' "
                    "control tokens are neutralised in messages",
                    self.name,
                    self.tokenizer_name,
                    exc,
                    TOP_LOGPROBS,
                )
                self._prompter = None
            self._prompter_loaded = True
