"""In-process vLLM: one ``AsyncLLM`` engine per model, shared by every graph of a run.

vLLM's continuous batching fills a device only when many requests are in flight, so every
call is handed to the engine the moment it arrives (nothing is gathered here, unlike the
transformers backend): dozens of concurrent debate turns and judge calls share each step.

Three choices shape this module:

- The engine runs on its own event-loop thread. An ``AsyncLLM`` is bound to the loop that
  first uses it, while CLI runs, notebooks and tests each bring their own loop
  (``asyncio.run``); calls from any loop are forwarded to the engine's loop.
- Engines are shared and reference-counted by their options: a debater alias and a judge
  alias on the same model, or several LoRA adapters of one base model, use one engine, and
  the engine shuts down when the last backend using it is closed.
- Prompts are rendered and tokenized here with the model's tokenizer exactly as in the
  transformers backend (see :mod:`oversight.backends.chat_prompts`) and sent as token ids,
  so both backends see identical prompts. Judges read the exact log-probs of the label
  tokens (``SamplingParams.logprob_token_ids``); with an older vLLM that lacks it, the top
  ``max_logprobs`` are requested and a label outside them is recorded as missing.

vllm is imported only when an engine starts: the module itself imports without it.
"""

from __future__ import annotations

import asyncio
import atexit
import concurrent.futures
import logging
import threading
import time
import uuid
from collections.abc import Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from oversight.backends.base import (
    BackendError,
    ChoiceScores,
    Completion,
    GenerateRequest,
    ScoreRequest,
    check_context,
)
from oversight.backends.chat_prompts import ChatPrompter
from oversight.backends.cpu_kv_cache import plan_cpu_kv_cache
from oversight.backends.cpu_threads import apply_cpu_threads
from oversight.backends.label_scores import choice_scores, scores_from_token_logprobs
from oversight.models import resolve_model

__all__ = ["EngineOptions", "VLLMBackend", "VLLMStats", "running_engines"]

log = logging.getLogger(__name__)

T = TypeVar("T")


@dataclass(frozen=True)
class EngineOptions:
    """Everything that decides which engine serves a request; equal options share an engine."""

    model: str
    """Resolved model: a local folder or a Hub id."""
    dtype: str = "auto"
    max_model_len: int | None = None
    gpu_memory_utilization: float = 0.9
    tensor_parallel_size: int = 1
    enable_prefix_caching: bool = True
    enforce_eager: bool | None = None
    """None: eager on CPU builds (torch.compile costs minutes per start there), else compiled."""
    enable_lora: bool = False
    max_lora_rank: int = 16
    max_loras: int = 4
    max_logprobs: int = 20
    seed: int = 0

    def engine_args(self) -> Any:
        """The ``AsyncEngineArgs`` of these options (imports vllm)."""
        from vllm.engine.arg_utils import AsyncEngineArgs

        return AsyncEngineArgs(**self.engine_kwargs())

    def engine_kwargs(self) -> dict[str, Any]:
        """The engine arguments of these options, as ``vllm.LLM(**kwargs)`` also takes them."""
        from vllm.platforms import current_platform

        eager = self.enforce_eager
        if eager is None:
            eager = bool(current_platform.is_cpu())
        kwargs: dict[str, Any] = {
            "model": self.model,
            "dtype": self.dtype,
            "max_model_len": self.max_model_len,
            "gpu_memory_utilization": self.gpu_memory_utilization,
            "tensor_parallel_size": self.tensor_parallel_size,
            "enable_prefix_caching": self.enable_prefix_caching,
            "enforce_eager": eager,
            "max_logprobs": self.max_logprobs,
            "seed": self.seed,
            "disable_log_stats": True,
        }
        if self.enable_lora:
            kwargs |= {
                "enable_lora": True,
                "max_lora_rank": self.max_lora_rank,
                "max_loras": self.max_loras,
            }
        if current_platform.is_cpu():
            # vLLM's CPU default reserves 90% of the memory node and refuses to start when
            # others hold some of it; size the cache from the model and the free memory.
            plan = plan_cpu_kv_cache(self.model, dtype=self.dtype, max_model_len=self.max_model_len)
            if plan is not None:
                kwargs["kv_cache_memory_bytes"] = plan.bytes
        return kwargs


class _Engine:
    """One ``AsyncLLM`` living on a private event-loop thread, started on first use."""

    def __init__(self, options: EngineOptions) -> None:
        self.options = options
        self.refs = 0
        self.llm: Any = None
        self.dead = False
        self._start_lock = threading.Lock()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name=f"vllm-engine-{id(self):x}", daemon=True
        )
        self._thread.start()

    def submit(self, coro: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        return asyncio.run_coroutine_threadsafe(coro, self._loop)

    async def run(self, coro: Coroutine[Any, Any, T]) -> T:
        """Await ``coro`` on the engine's loop; cancelling the caller cancels it there too."""
        return await asyncio.wrap_future(self.submit(coro))

    def start_sync(self) -> None:
        """Create the engine unless it exists (blocking: tens of seconds)."""
        with self._start_lock:
            if self.llm is None:
                self.submit(self._create()).result()

    async def _create(self) -> None:
        # Created inside the engine's loop, so anything vLLM binds to "the running loop" is
        # bound to this one. The engine goes straight into self.llm, never into a local: a
        # frame of this coroutine outlives it (vLLM start-up keeps a reference), and a local
        # would keep the engine alive after close, until a noisy __del__ at interpreter exit.
        from vllm.platforms import current_platform
        from vllm.v1.engine.async_llm import AsyncLLM

        if current_platform.is_cpu():
            apply_cpu_threads()  # before the engine's processes start: they inherit it
        started = time.perf_counter()
        self.llm = AsyncLLM.from_engine_args(self.options.engine_args())
        log.info(
            "vLLM engine for %s ready in %.1f s", self.options.model, time.perf_counter() - started
        )

    def close_sync(self) -> None:
        """Shut the engine down (its worker processes too) and stop the loop thread."""
        if self.llm is not None:
            llm, self.llm = self.llm, None
            try:
                self.submit(_shutdown(llm)).result(timeout=60)
            except Exception:  # shutting down must not mask what the caller is doing
                log.warning("vLLM engine shutdown failed", exc_info=True)
        if self._loop.is_running():
            self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        if not self._thread.is_alive():
            self._loop.close()


async def _shutdown(llm: Any) -> None:
    """Shut the engine down, then end the tasks it leaves on its loop (its output handler):
    a pending task would keep the engine alive until interpreter exit, where its ``__del__``
    fails noisily."""
    llm.shutdown()
    current = asyncio.current_task()
    tasks = [t for t in asyncio.all_tasks() if t is not current]
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


_ENGINES: dict[EngineOptions, _Engine] = {}
_ENGINES_LOCK = threading.Lock()


def running_engines() -> dict[EngineOptions, int]:
    """Engines of this process that have started, with the number of backends using each."""
    with _ENGINES_LOCK:
        return {opts: eng.refs for opts, eng in _ENGINES.items() if eng.llm is not None}


def _acquire(options: EngineOptions) -> _Engine:
    with _ENGINES_LOCK:
        engine = _ENGINES.get(options)
        if engine is None or engine.dead:
            engine = _Engine(options)
            _ENGINES[options] = engine
        engine.refs += 1
        return engine


def _release(engine: _Engine) -> None:
    with _ENGINES_LOCK:
        engine.refs -= 1
        if engine.refs > 0:
            return
        if _ENGINES.get(engine.options) is engine:
            del _ENGINES[engine.options]
    engine.close_sync()


@atexit.register
def _close_all() -> None:
    """Stop engines a caller forgot to close, so no worker process outlives the interpreter."""
    with _ENGINES_LOCK:
        engines = list(_ENGINES.values())
        _ENGINES.clear()
    for engine in engines:
        engine.close_sync()


_LORA_IDS: dict[str, int] = {}


def _lora_id(path: str) -> int:
    """vLLM identifies adapters by a process-wide integer; one per adapter folder."""
    with _ENGINES_LOCK:
        return _LORA_IDS.setdefault(path, len(_LORA_IDS) + 1)


@dataclass
class VLLMStats:
    """Counters that show whether requests really overlapped in the engine."""

    requests: int = 0
    in_flight: int = 0
    peak_in_flight: int = 0
    """Most requests inside the engine at once: continuous batching needs this to be high."""
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_prompt_tokens: int = 0
    """Prompt tokens whose blocks the engine found in its prefix cache (not computed again)."""


@dataclass
class _Bound:
    """What a started backend holds: its share of an engine and the tokenizer."""

    engine: _Engine
    prompter: ChatPrompter
    lora: Any = None
    exact_labels: bool = field(default=True)
    """Whether this vLLM returns log-probs of requested token ids (``logprob_token_ids``)."""
    context_tokens: int | None = None
    """The engine's context length (``max_model_len``): longer prompts are refused here, with
    the same :class:`~oversight.backends.base.ContextOverflowError` as the other backends."""


class VLLMBackend:
    """A model served by an in-process vLLM engine; see the module docstring.

    ``model`` is anything :func:`oversight.models.resolve_model` accepts. Nothing starts
    until the first request (or :meth:`start`), so a resumed run with nothing left to do
    never pays the engine start.
    """

    def __init__(
        self,
        model: str,
        *,
        name: str | None = None,
        dtype: str = "auto",
        max_model_len: int | None = None,
        gpu_memory_utilization: float = 0.9,
        tensor_parallel_size: int = 1,
        enable_prefix_caching: bool = True,
        enforce_eager: bool | None = None,
        lora: str | None = None,
        max_lora_rank: int = 16,
        max_logprobs: int = 20,
        seed: int = 0,
        cache_dir: Path | None = None,
    ) -> None:
        self.model_name = model
        self.name = name or model
        self.caches_prefixes = enable_prefix_caching
        """A prompt reuses the computed blocks of an earlier one it shares a prefix with (a
        judge whose orders share the transcript then sends the second after the first)."""
        self.cache_dir = cache_dir
        self.lora_path = str(Path(lora).expanduser().resolve()) if lora else None
        self._options = dict(
            dtype=dtype,
            max_model_len=max_model_len,
            gpu_memory_utilization=gpu_memory_utilization,
            tensor_parallel_size=tensor_parallel_size,
            enable_prefix_caching=enable_prefix_caching,
            enforce_eager=enforce_eager,
            enable_lora=lora is not None,
            max_lora_rank=max_lora_rank,
            max_logprobs=max_logprobs,
            seed=seed,
        )
        self.options: EngineOptions | None = None
        self.stats = VLLMStats()
        self._bound: _Bound | None = None
        self._bind_error: BackendError | None = None
        self._lock = threading.Lock()
        self._closed = False

    # -- public API -------------------------------------------------------------------

    @property
    def started(self) -> bool:
        return self._bound is not None

    async def start(self) -> None:
        """Start (or join) the engine now, e.g. before timing; requests start it anyway."""
        await self._ensure()

    async def generate(self, requests: list[GenerateRequest]) -> list[Completion]:
        """Chat completions, all submitted to the engine at once."""
        bound = await self._ensure()
        return list(await asyncio.gather(*(self._generate_one(bound, r) for r in requests)))

    async def score_choices(self, requests: list[ScoreRequest]) -> list[ChoiceScores]:
        """Label probabilities from the next-token log-probs after each prompt."""
        bound = await self._ensure()
        return list(await asyncio.gather(*(self._score_one(bound, r) for r in requests)))

    async def aclose(self) -> None:
        """Give up this backend's share of the engine; the last one shuts it down."""
        self._closed = True
        # In a thread: an engine start in progress holds the lock for tens of seconds.
        await asyncio.to_thread(self._unbind)

    def _unbind(self) -> None:
        with self._lock:
            bound, self._bound = self._bound, None
        if bound is not None:
            _release(bound.engine)

    # -- engine --------------------------------------------------------------------------

    async def _ensure(self) -> _Bound:
        bound = self._bound
        if bound is None:
            bound = await asyncio.to_thread(self._bind)
        if bound.engine.dead:
            raise BackendError(f"{self.name}: the vLLM engine has died; rerun to restart it")
        return bound

    def _bind(self) -> _Bound:
        """Resolve the model, load the tokenizer and join (or start) the shared engine."""
        with self._lock:
            if self._closed:
                raise BackendError(f"{self.name}: backend closed")
            if self._bound is not None:
                return self._bound
            if self._bind_error is not None:
                # A start that failed (no model, out of memory) fails again the same way;
                # every queued request must not pay tens of seconds to find that out.
                raise self._bind_error
            try:
                path = resolve_model(self.model_name, self.cache_dir)
                prompter = ChatPrompter.load(path, name=self.name)
            except Exception as exc:
                self._bind_error = BackendError(
                    f"{self.name}: cannot load {self.model_name!r}: {exc}"
                )
                raise self._bind_error from exc
            options = EngineOptions(model=path, **self._options)  # type: ignore[arg-type]
            engine = _acquire(options)
            try:
                engine.start_sync()
            except BaseException as exc:
                _release(engine)
                self._bind_error = BackendError(
                    f"{self.name}: vLLM engine failed to start: {exc!r}"
                )
                raise self._bind_error from exc
            lora = None
            if self.lora_path is not None:
                from vllm.lora.request import LoRARequest

                lora = LoRARequest(
                    Path(self.lora_path).name, _lora_id(self.lora_path), self.lora_path
                )
            self.options = options
            model_config = getattr(engine.llm, "model_config", None)
            context = getattr(model_config, "max_model_len", None) or options.max_model_len
            self._bound = _Bound(
                engine, prompter, lora, _supports_label_ids(), int(context) if context else None
            )
            return self._bound

    def _described(self) -> str:
        """The alias and the model it serves, as errors name them."""
        if self.model_name == self.name:
            return self.name
        return f"{self.name} ({self.model_name})"

    async def _run(self, bound: _Bound, prompt_ids: list[int], params: Any) -> Any:
        """Submit one request and wait for its final output, on the engine's loop."""
        self.stats.requests += 1
        self.stats.in_flight += 1
        self.stats.peak_in_flight = max(self.stats.peak_in_flight, self.stats.in_flight)
        try:
            final = await bound.engine.run(_final_output(bound, prompt_ids, params))
            self.stats.cached_prompt_tokens += int(getattr(final, "num_cached_tokens", 0) or 0)
            return final
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            raise _backend_error(self.name, bound, exc) from exc
        finally:
            self.stats.in_flight -= 1

    async def _generate_one(self, bound: _Bound, request: GenerateRequest) -> Completion:
        from vllm import SamplingParams

        started = time.perf_counter()
        p = request.params
        prompt_ids = bound.prompter.generate_ids(request.messages)
        check_context(self._described(), len(prompt_ids), p.max_new_tokens, bound.context_tokens)
        params = SamplingParams(
            max_tokens=p.max_new_tokens,
            temperature=p.temperature,
            top_p=p.top_p,
            seed=p.seed if p.temperature > 0 else None,
        )
        out = (await self._run(bound, prompt_ids, params)).outputs[0]
        completion_tokens = len(out.token_ids)
        self.stats.prompt_tokens += len(prompt_ids)
        self.stats.completion_tokens += completion_tokens
        return Completion(
            text=out.text,
            prompt_tokens=len(prompt_ids),
            completion_tokens=completion_tokens,
            latency_s=time.perf_counter() - started,
        )

    async def _score_one(self, bound: _Bound, request: ScoreRequest) -> ChoiceScores:
        from vllm import SamplingParams

        prompt = bound.prompter.score_prompt(request)
        check_context(self._described(), len(prompt.prompt_ids), 0, bound.context_tokens)
        if bound.exact_labels:
            params = SamplingParams(
                max_tokens=1, temperature=0.0, logprob_token_ids=list(prompt.label_ids)
            )
        else:
            assert self.options is not None
            params = SamplingParams(
                max_tokens=1, temperature=0.0, logprobs=self.options.max_logprobs
            )
        out = (await self._run(bound, prompt.prompt_ids, params)).outputs[0]
        self.stats.prompt_tokens += len(prompt.prompt_ids)
        if not out.logprobs:
            return choice_scores(request.labels, [None] * len(request.labels))
        by_token = {int(tid): float(lp.logprob) for tid, lp in out.logprobs[0].items()}
        return scores_from_token_logprobs(request.labels, prompt.label_ids, by_token)


async def _final_output(bound: _Bound, prompt_ids: list[int], params: Any) -> Any:
    from vllm.inputs import TokensPrompt

    final = None
    async for output in bound.engine.llm.generate(
        TokensPrompt(prompt_token_ids=prompt_ids),
        params,
        request_id=uuid.uuid4().hex,
        lora_request=bound.lora,
    ):
        final = output
    if final is None or not final.outputs:
        raise BackendError("the vLLM engine returned no output")
    return final


def _supports_label_ids() -> bool:
    from vllm import SamplingParams

    return hasattr(SamplingParams(), "logprob_token_ids")


def _backend_error(name: str, bound: _Bound, exc: Exception) -> BackendError:
    """Classify an engine error: only a failure vLLM calls recoverable is worth a retry."""
    if isinstance(exc, BackendError):
        return exc
    kind = type(exc).__name__
    names = {cls.__name__ for cls in type(exc).__mro__}
    if "EngineDeadError" in names:
        bound.engine.dead = True
        return BackendError(f"{name}: the vLLM engine died: {exc}", transient=False)
    # EngineGenerateError: "Recoverable"; GracefulHTTPError: admission control (overload).
    transient = bool(names & {"EngineGenerateError", "GracefulHTTPError"})
    return BackendError(f"{name}: vLLM request failed: {kind}: {exc}", transient=transient)
