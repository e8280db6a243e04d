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

Context: with a local tokenizer, a prompt is counted before it is sent, against
``max_model_len`` when the config gives it, else the context the server reports for the model
in ``/v1/models`` (vLLM does); one that does not fit is refused here with
:class:`~oversight.backends.base.ContextOverflowError`, as on the other backends, so the
speaker's or judge's context policy applies. Without a tokenizer or a known context the server
is left to refuse it (an HTTP 400, which fails the debate).

The API key is read from the environment variable named in the config, when the client is
made; it is never stored on this object's public attributes, in the Store or in a log. A base
URL may carry credentials (``http://user:password@host/v1``, HTTP basic auth for a proxy in
front of the server): they are taken out of the URL and sent as an ``Authorization`` header,
so the URL the client holds, logs and puts in its errors has none, and every URL this backend
shows (errors, logs, :attr:`replica_stats`) has its password masked.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import os
import random
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import unquote, urlsplit, urlunsplit

from oversight.backends.base import (
    BackendError,
    ChoiceScores,
    Completion,
    GenerateRequest,
    Message,
    ScoreRequest,
    check_context,
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
MODELS_TIMEOUT_S = 10.0
"""Longest wait for ``/v1/models`` (asked once for the served model's context length)."""


@dataclass
class ReplicaStats:
    """Per base URL: how requests were spread and how many attempts failed."""

    url: str
    """The base URL as shown: its password, if it had one, masked."""
    requests: int = 0
    failures: int = 0
    in_flight: int = 0


@dataclass
class _Replica:
    stats: ReplicaStats
    client: Any
    """``openai.AsyncOpenAI`` bound to one base URL (and to the event loop that made it)."""


@dataclass(frozen=True)
class _Endpoint:
    """A base URL split into what the client may hold and log, and its credentials."""

    url: str
    """Without credentials: what the HTTP client is given."""
    shown: str
    """With the password masked: what errors, logs and stats show."""
    authorization: str | None
    """``Basic ...`` from the URL's user and password, if it had any."""


def _endpoint(url: str) -> _Endpoint:
    from oversight.config import mask_credentials

    parts = urlsplit(url.rstrip("/"))
    if parts.username is None and parts.password is None:
        return _Endpoint(parts.geturl(), parts.geturl(), None)
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    pair = f"{unquote(parts.username or '')}:{unquote(parts.password or '')}"
    return _Endpoint(
        urlunsplit(parts._replace(netloc=netloc)),
        mask_credentials(parts.geturl()),
        "Basic " + base64.b64encode(pair.encode()).decode("ascii"),
    )


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
        max_model_len: int | None = None,
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
        self._endpoints = [_endpoint(u) for u in base_urls]
        self.base_urls = [e.shown for e in self._endpoints]
        """The base URLs as shown (passwords masked); the client gets them without."""
        self.served_model = served_model or model
        self.api_key_env = api_key_env
        self.timeout_s = timeout_s
        self.max_retries = max_retries
        self.tokenizer_name = tokenizer or model
        self.max_model_len = max_model_len
        """The server's context length, if configured; else asked of the server."""
        self.backoff_s = backoff_s
        self.max_backoff_s = max_backoff_s
        self.cache_dir = cache_dir
        self.retries = 0
        """Attempts that failed transiently and were retried."""
        self._stats = [ReplicaStats(e.shown) for e in self._endpoints]
        self._replicas: list[_Replica] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._prompter: ChatPrompter | None = None
        self._prompter_loaded = False
        self._prompter_lock = threading.Lock()
        self._context: int | None = max_model_len
        self._context_known = max_model_len is not None
        self._context_lock: asyncio.Lock | None = None
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
        messages = _safe_messages(request.messages, prompter)
        if prompter is not None and (context := await self._context_tokens()) is not None:
            # Counted only when there is a context to count against: no cost otherwise.
            self._check_context(len(prompter.generate_ids(messages)), p.max_new_tokens, context)
        kwargs: dict[str, Any] = {
            "model": self.served_model,
            "messages": messages,
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
                prompt = prompter.score_prompt(request)
            except Exception as exc:
                raise BackendError(f"{self.name}: {exc}") from exc
            self._check_context(len(prompt.prompt_ids), 0, await self._context_tokens())
            label_ids = prompt.label_ids
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

    def _check_context(self, prompt_tokens: int, new_tokens: int, context: int | None) -> None:
        """Refuse a prompt the server's context cannot hold, before sending it."""
        described = (
            self.name if self.name == self.model_name else f"{self.name} ({self.model_name})"
        )
        check_context(described, prompt_tokens, new_tokens, context)

    async def _context_tokens(self) -> int | None:
        """``max_model_len`` from the config, else the one the server reports, asked once."""
        if self._context_known:
            return self._context
        replicas = self._ensure_clients()
        if self._context_lock is None:
            self._context_lock = asyncio.Lock()
        async with self._context_lock:
            if not self._context_known:
                self._context, self._context_known = await self._served_context(replicas[0])
        return self._context

    async def _served_context(self, replica: _Replica) -> tuple[int | None, bool]:
        """The context the server lists for the served model, and whether that answer is
        final: a server that lists none (or says no) is not asked again, one that could not
        be reached is asked again at the next request."""
        import openai

        try:
            # A short timeout: this is a courtesy lookup, not the request being waited for.
            client = replica.client.with_options(timeout=min(self.timeout_s, MODELS_TIMEOUT_S))
            page = await client.models.list()
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # not every server lists models; the server then checks
            log.debug("%s: no context length from %s/models: %s", self.name, replica.stats.url, exc)
            final = isinstance(exc, openai.APIStatusError) and exc.status_code < 500
            return None, final
        for entry in getattr(page, "data", None) or []:
            if getattr(entry, "id", None) == self.served_model:
                value = getattr(entry, "max_model_len", None)
                return (int(value) if isinstance(value, int) and value > 0 else None), True
        return None, True

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
        self._context_lock = None  # an asyncio.Lock belongs to the loop that made it
        self._replicas = [
            _Replica(
                stats,
                openai.AsyncOpenAI(
                    base_url=endpoint.url,
                    api_key=api_key,
                    timeout=self.timeout_s,
                    max_retries=0,  # retries are ours: only transient errors, across replicas
                    default_headers=(
                        {"Authorization": endpoint.authorization}
                        if endpoint.authorization
                        else None
                    ),
                ),
            )
            for stats, endpoint in zip(self._stats, self._endpoints, strict=True)
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
