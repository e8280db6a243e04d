"""Local Hugging Face causal LMs behind the Backend protocol, with request batching.

Graph nodes each call ``generate([one_request])`` concurrently; running those one by one
would leave a CPU or GPU mostly idle. A single worker task gathers queued requests into
left-padded batches and runs them in a worker thread, so the event loop stays responsive.
torch and transformers are imported only when the model is first used.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import secrets
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from oversight.backends.base import (
    BackendError,
    ChoiceScores,
    Completion,
    GenerateRequest,
    ScoreRequest,
    check_context,
)
from oversight.backends.chat_prompts import ChatPrompter
from oversight.models import resolve_model

if TYPE_CHECKING:
    import torch

__all__ = ["BackendStats", "TransformersBackend"]


@dataclass
class BackendStats:
    """Cumulative counters; they let tests and benchmarks see how requests were batched."""

    batches: int = 0
    """Model calls (``generate`` or one prefill), each over one batch of requests."""
    requests: int = 0
    """Requests that reached the model."""
    largest_batch: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    loads: int = 0
    """Times the model was loaded: 0 until the first call, then 1."""


@dataclass
class _Job:
    request: GenerateRequest | ScoreRequest
    future: asyncio.Future[Any]
    enqueued: float

    def group_key(self) -> tuple[object, ...]:
        """Requests that can share one model call.

        Generation groups on the sampling parameters except the seed: each row samples with
        its own seeded generator, so seeds need not match.
        """
        if isinstance(self.request, GenerateRequest):
            p = self.request.params
            return ("generate", p.max_new_tokens, p.temperature, p.top_p)
        return ("score",)


class _RowSampler:
    """A logits processor that samples every row with its own seeded generator.

    It returns logits that leave only the sampled token, and generation runs greedy on
    them. ``model.generate`` would draw all rows from one global RNG, so a request's sample
    would depend on its batch-mates; here it depends only on its own seed.
    """

    def __init__(
        self, seeds: list[int], temperature: float, top_p: float, device: torch.device
    ) -> None:
        import torch

        self.temperature = temperature
        self.top_p = top_p
        self.generators = [torch.Generator(device=device).manual_seed(s) for s in seeds]

    def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        import torch

        probs = (scores.float() / self.temperature).softmax(dim=-1)
        if self.top_p < 1.0:
            sorted_probs, order = probs.sort(dim=-1, descending=True)
            # Keep the smallest prefix whose mass reaches top_p (the top token always stays).
            drop = sorted_probs.cumsum(dim=-1) - sorted_probs >= self.top_p
            sorted_probs = sorted_probs.masked_fill(drop, 0.0)
            probs = torch.zeros_like(probs).scatter(-1, order, sorted_probs)
        picks = torch.cat(
            [torch.multinomial(probs[i], 1, generator=g) for i, g in enumerate(self.generators)]
        )
        out = torch.full_like(scores, float("-inf"))
        out[torch.arange(scores.shape[0], device=scores.device), picks] = 0.0
        return out


class TransformersBackend:
    """A local Hugging Face causal LM that batches concurrent requests.

    ``model`` is anything :func:`oversight.models.resolve_model` accepts: a registry alias, a
    local folder, or a Hub id. Nothing is loaded until the first request, so a resumed run
    with nothing left to do never pays for a model load.
    """

    def __init__(
        self,
        model: str,
        *,
        name: str | None = None,
        device: str = "cpu",
        dtype: str = "float32",
        max_batch_size: int = 8,
        batch_wait_ms: float = 20.0,
        cache_dir: Path | None = None,
    ) -> None:
        if max_batch_size < 1:
            raise ValueError("max_batch_size must be at least 1")
        if batch_wait_ms < 0:
            raise ValueError("batch_wait_ms must not be negative")
        self.model_name = model
        self.name = name or model
        self.device = device
        self.dtype = dtype
        self.max_batch_size = max_batch_size
        self.batch_wait_ms = batch_wait_ms
        self.cache_dir = cache_dir
        self.stats = BackendStats()
        self.resolved_path: str | None = None
        self._lm: _LoadedModel | None = None
        self._load_lock = threading.Lock()
        self._queue: asyncio.Queue[_Job] | None = None
        self._worker_task: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._closed = False

    # -- public API -------------------------------------------------------------------

    @property
    def loaded(self) -> bool:
        return self._lm is not None

    async def load(self) -> None:
        """Load the model now (e.g. to warm up before timing); calls load it anyway."""
        await asyncio.to_thread(self._load_sync)

    async def generate(self, requests: list[GenerateRequest]) -> list[Completion]:
        """Chat completions; ``latency_s`` runs from the call to the result, queueing included."""
        return cast("list[Completion]", await self._submit(requests))

    async def score_choices(self, requests: list[ScoreRequest]) -> list[ChoiceScores]:
        """Label probabilities from one prefill per request; see
        :func:`oversight.backends.chat_prompts.label_token_ids`."""
        return cast("list[ChoiceScores]", await self._submit(requests))

    async def aclose(self) -> None:
        """Stop the worker, fail requests still queued, and drop the model."""
        self._closed = True
        task, queue = self._worker_task, self._queue
        self._worker_task = self._queue = None
        # A worker left on an earlier, finished event loop is already gone.
        if task is not None and not task.done() and self._loop is asyncio.get_running_loop():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            while queue is not None and not queue.empty():
                _fail(queue.get_nowait(), BackendError(f"{self.name}: backend closed"))
        with self._load_lock:
            self._lm = None

    # -- queueing -----------------------------------------------------------------------

    async def _submit(
        self, requests: list[GenerateRequest] | list[ScoreRequest]
    ) -> list[Completion | ChoiceScores]:
        if self._closed:
            raise BackendError(f"{self.name}: backend closed")
        if not requests:
            return []
        queue = self._ensure_worker()
        loop = asyncio.get_running_loop()
        jobs = [_Job(r, loop.create_future(), time.perf_counter()) for r in requests]
        for job in jobs:
            queue.put_nowait(job)
        return list(await asyncio.gather(*(job.future for job in jobs)))

    def _ensure_worker(self) -> asyncio.Queue[_Job]:
        """Start the worker on the running loop (again, if an earlier loop has gone)."""
        loop = asyncio.get_running_loop()
        if (
            self._queue is None
            or self._worker_task is None
            or self._worker_task.done()
            or self._loop is not loop
        ):
            self._loop = loop
            self._queue = asyncio.Queue()
            self._worker_task = loop.create_task(
                self._worker(self._queue), name=f"{self.name}-batcher"
            )
        return self._queue

    async def _worker(self, queue: asyncio.Queue[_Job]) -> None:
        while True:
            jobs = [await queue.get()]
            await self._collect(queue, jobs)
            groups: dict[tuple[object, ...], list[_Job]] = {}
            for job in jobs:
                if not job.future.done():  # the caller may have been cancelled meanwhile
                    groups.setdefault(job.group_key(), []).append(job)
            for group in groups.values():
                await self._run_batch(group)

    async def _collect(self, queue: asyncio.Queue[_Job], jobs: list[_Job]) -> None:
        """Add queued jobs to ``jobs`` until it is full or ``batch_wait_ms`` has passed."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.batch_wait_ms / 1000
        while len(jobs) < self.max_batch_size:
            if queue.empty():
                remaining = deadline - loop.time()
                if remaining <= 0:
                    return
                try:
                    async with asyncio.timeout(remaining):
                        job = await queue.get()
                except TimeoutError:
                    return
            else:
                job = queue.get_nowait()
            jobs.append(job)

    async def _run_batch(self, jobs: list[_Job]) -> None:
        try:
            results = await asyncio.to_thread(self._process, jobs)
        except asyncio.CancelledError:
            for job in jobs:
                _fail(job, BackendError(f"{self.name}: backend closed"))
            raise
        except Exception as exc:
            for job in jobs:
                err = BackendError(f"{self.name}: batch of {len(jobs)} failed: {exc!r}")
                err.__cause__ = exc
                _fail(job, err)
            return
        for job, result in zip(jobs, results, strict=True):
            if job.future.done():
                continue
            if isinstance(result, BaseException):
                job.future.set_exception(result)
            else:
                job.future.set_result(result)

    # -- model work (runs in a worker thread) ---------------------------------------------

    def _load_sync(self) -> _LoadedModel:
        with self._load_lock:
            if self._lm is not None:
                return self._lm
            if self._closed:
                raise BackendError(f"{self.name}: backend closed")
            import torch
            from transformers import AutoModelForCausalLM, AutoTokenizer

            path = resolve_model(self.model_name, self.cache_dir)
            tokenizer = AutoTokenizer.from_pretrained(path)
            tokenizer.padding_side = "left"
            if tokenizer.pad_token is None:
                tokenizer.pad_token = tokenizer.eos_token or tokenizer.unk_token
            if tokenizer.pad_token is None:
                raise BackendError(f"{self.name}: tokenizer has no pad, eos or unk token")
            dtype: Any = "auto" if self.dtype == "auto" else getattr(torch, self.dtype, None)
            if dtype is None or (dtype != "auto" and not isinstance(dtype, torch.dtype)):
                raise BackendError(f"{self.name}: unknown dtype {self.dtype!r}")
            model: Any = AutoModelForCausalLM.from_pretrained(path, dtype=dtype)
            model.to(self.device).eval()
            eos = model.generation_config.eos_token_id
            eos_ids = set(eos if isinstance(eos, list) else [] if eos is None else [eos])
            if tokenizer.eos_token_id is not None:
                eos_ids.add(int(tokenizer.eos_token_id))
            self._lm = _LoadedModel(
                name=self.name,
                model=model,
                tokenizer=tokenizer,
                eos_ids=sorted(eos_ids),
                keeps_logits_arg="logits_to_keep" in inspect.signature(model.forward).parameters,
                stats=self.stats,
                context_tokens=getattr(model.config, "max_position_embeddings", None),
                model_ref=self.model_name,
            )
            self.resolved_path = path
            self.stats.loads += 1
            return self._lm

    def _process(self, jobs: list[_Job]) -> list[Completion | ChoiceScores | BaseException]:
        """Run one group; a request that cannot be prepared fails alone, not its batch."""
        lm = self._load_sync()  # a local reference: aclose() may drop self._lm meanwhile
        results: list[Completion | ChoiceScores | BaseException | None] = [None] * len(jobs)
        index: list[int] = []
        texts: list[str] = []
        label_ids: list[list[int]] = []
        for i, job in enumerate(jobs):
            try:
                text, ids = lm.prepare(job.request)
            except Exception as exc:
                results[i] = exc if isinstance(exc, BackendError) else BackendError(repr(exc))
                continue
            index.append(i)
            texts.append(text)
            label_ids.append(ids)
        if index:
            batch = [jobs[i] for i in index]
            outputs: list[Completion | ChoiceScores] = (
                [*lm.generate_batch(batch, texts)]
                if isinstance(batch[0].request, GenerateRequest)
                else [*lm.score_batch(batch, texts, label_ids)]
            )
            for i, out in zip(index, outputs, strict=True):
                results[i] = out
            self.stats.batches += 1
            self.stats.requests += len(batch)
            self.stats.largest_batch = max(self.stats.largest_batch, len(batch))
        return [r if r is not None else BackendError("no result") for r in results]


@dataclass
class _LoadedModel:
    """A loaded model and tokenizer and the batched calls on them (run in a worker thread)."""

    name: str
    model: Any
    tokenizer: Any
    eos_ids: list[int]
    keeps_logits_arg: bool
    stats: BackendStats
    context_tokens: int | None = None
    model_ref: str | None = None
    """The model as configured (alias, path or hub id), named in context errors."""
    prompter: ChatPrompter = field(init=False)

    def __post_init__(self) -> None:
        self.prompter = ChatPrompter(self.tokenizer, self.name)

    def prepare(self, request: GenerateRequest | ScoreRequest) -> tuple[str, list[int]]:
        """The prompt text and, for scoring, the label token ids (the shared recipe of
        :mod:`oversight.backends.chat_prompts`, so every backend sees the same prompt)."""
        if isinstance(request, GenerateRequest):
            text = self.prompter.chat_text(request.messages)
            self.check_length(len(self.prompter.encode(text)), request.params.max_new_tokens)
            return text, []
        prompt = self.prompter.score_prompt(request)
        self.check_length(len(prompt.prompt_ids), 0)
        return prompt.text, prompt.label_ids

    def check_length(self, prompt_tokens: int, new_tokens: int) -> None:
        """Refuse a prompt the model cannot read whole: past its context it would not fail,
        it would silently produce text from positions it was never trained on."""
        described = self.name
        if self.model_ref and self.model_ref != self.name:
            described = f"{self.name} ({self.model_ref})"
        check_context(described, prompt_tokens, new_tokens, self.context_tokens)

    def encode(self, texts: list[str]) -> Any:
        # The chat template already writes any BOS/special tokens as text.
        return self.tokenizer(
            texts, return_tensors="pt", padding=True, add_special_tokens=False
        ).to(self.model.device)

    def generate_batch(self, jobs: list[_Job], texts: list[str]) -> list[Completion]:
        import torch
        from transformers import LogitsProcessorList

        requests = [cast(GenerateRequest, job.request) for job in jobs]
        params = requests[0].params
        enc = self.encode(texts)
        processors = LogitsProcessorList()
        if params.temperature > 0:
            seeds = [
                r.params.seed if r.params.seed is not None else secrets.randbits(63)
                for r in requests
            ]
            processors.append(
                _RowSampler(seeds, params.temperature, params.top_p, self.model.device)
            )
        with torch.inference_mode():
            out = self.model.generate(
                **enc,
                max_new_tokens=params.max_new_tokens,
                do_sample=False,  # sampling, if any, happens in _RowSampler
                logits_processor=processors,
                pad_token_id=self.tokenizer.pad_token_id,
                eos_token_id=self.eos_ids,
                repetition_penalty=1.0,  # SamplingParams say everything that shapes the output
            )
        new_tokens = out[:, enc["input_ids"].shape[1] :].tolist()
        prompt_lengths = enc["attention_mask"].sum(dim=1).tolist()
        eos = set(self.eos_ids)
        done = time.perf_counter()
        completions = []
        for job, tokens, prompt_len in zip(jobs, new_tokens, prompt_lengths, strict=True):
            end = next((k for k, t in enumerate(tokens) if t in eos), None)
            kept = tokens if end is None else tokens[:end]
            n_completion = len(tokens) if end is None else end + 1
            completions.append(
                Completion(
                    text=self.tokenizer.decode(kept, skip_special_tokens=True),
                    prompt_tokens=int(prompt_len),
                    completion_tokens=n_completion,
                    latency_s=done - job.enqueued,
                )
            )
            self.stats.prompt_tokens += int(prompt_len)
            self.stats.completion_tokens += n_completion
        return completions

    def score_batch(
        self, jobs: list[_Job], texts: list[str], label_ids: list[list[int]]
    ) -> list[ChoiceScores]:
        import torch

        enc = self.encode(texts)
        mask = enc["attention_mask"]
        # Left padding shifts real tokens right; positions must still start at 0 per row.
        positions = (mask.long().cumsum(dim=1) - 1).clamp(min=0)
        extra = {"logits_to_keep": 1} if self.keeps_logits_arg else {}
        with torch.inference_mode():
            logits = self.model(
                input_ids=enc["input_ids"], attention_mask=mask, position_ids=positions, **extra
            ).logits[:, -1, :]
        logprobs = logits.float().log_softmax(dim=-1)
        scores = []
        for row, job, ids in zip(logprobs, jobs, label_ids, strict=True):
            selected = row[torch.tensor(ids, device=row.device)]
            probs = selected.softmax(dim=0)  # stable: softmax subtracts the max
            scores.append(
                ChoiceScores(
                    labels=list(cast(ScoreRequest, job.request).labels),
                    logprobs=[float(x) for x in selected.tolist()],
                    probs=[float(p) for p in probs.tolist()],
                )
            )
        self.stats.prompt_tokens += int(mask.sum())
        return scores


def _fail(job: _Job, error: BackendError) -> None:
    if not job.future.done():
        job.future.set_exception(error)
