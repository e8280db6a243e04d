"""vLLM: orchestration efficiency, concurrency scaling and judge cost on the in-process engine.

One engine (``VLLMBackend``: SmolLM2-135M-Instruct, float32, prefix caching on) serves three
measurements, one after the other, then is shut down for the fourth:

- **Efficiency, framework side**: debates through ``Runner`` (temperature 0), every generation
  request recorded; the judge alias is an instant backend, so the engine does nothing but
  the debaters' turns and the time (start of ``Runner.run`` to the return of its last
  generation call) is the debate turns alone.
- **Scaling**: one-round debates at 1, 4, 16 and 64 in flight, each level on a fresh store
  and on questions of its own (so no level finds its prompts in the prefix cache), the
  judge on the engine too (the whole run's throughput).
- **Judge cost**: the ``judge_skeptic`` template (transcript before the answers) on
  distinct transcripts, so no judgment finds its own first order cached: time per judgment
  / time to generate one token for an equally long, also uncached, prompt. Goal: at most 2.
  (Its two orders still differ from the first speech on: each speaker is named by the
  letter it defends.) Then the same for ``judge_shared_prefix``, whose transcript names
  speakers by seat and is the same in both orders, sent one after the other so the second
  is prefilled from the first's cached blocks; ``cached_prompt_share`` is the share of
  prompt tokens (one-token generations included) the engine found cached.
- **Efficiency, raw side**: the recorded requests' token ids sent to a fresh synchronous
  ``vllm.LLM`` with the same engine arguments, one ``LLM.generate`` per round: the engine's
  own batch call for the same prompts and token counts (tokenization inside the time, as
  ``LLM.chat`` does it). Figure: framework / raw generated tokens per second (goal >= 0.95).
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

from agents.judge import ORDERS, PromptedJudge
from agents.templates import load_template
from benchmarks.bench_efficiency import _config, _Recording, efficiency_figures
from benchmarks.bench_judge import debate, judge_figures
from benchmarks.bench_overhead import InstantBackend
from benchmarks.common import DEFAULT_MODEL, Figures, Options, write_questions
from oversight.backends.base import GenerateRequest, SamplingParams
from oversight.backends.chat_prompts import ChatPrompter
from oversight.backends.cpu_threads import apply_cpu_threads
from oversight.backends.vllm_backend import VLLMBackend
from oversight.config import ExperimentConfig, ModelConfig
from oversight.models import resolve_model
from oversight.runner import Runner
from oversight.store import Question, Store, Turn

ENGINE = {"dtype": "float32", "max_model_len": 2048}
LEVELS = (1, 4, 16, 64)


def _vllm_config(model: str, questions: Path, n: int, rounds: int, tokens: int, url: str) -> Any:
    """The efficiency experiment with a second alias for the judge (instant or the engine)."""
    cfg: ExperimentConfig = _config(model, questions, n, rounds, tokens, url)
    models = dict(cfg.models) | {"j": cfg.models["m"]}
    judges = [cfg.judges[0].model_copy(update={"model": "j"})]
    return cfg.model_copy(update={"models": models, "judges": judges})


async def _run(cfg: Any, factory: Any) -> tuple[float, Any, Store]:
    store = Store(cfg.store)
    started = time.perf_counter()
    summary = await Runner(cfg, store, backend_factory=factory).run()
    took = time.perf_counter() - started
    if summary.failed:
        store.close()
        raise RuntimeError(f"debates failed: {summary.errors}")
    return took, summary, store


async def _framework(cfg: Any, recording: _Recording) -> float:
    def factory(alias: str, _cfg: ModelConfig) -> Any:
        return recording if alias == "m" else InstantBackend(alias)

    started = time.perf_counter()
    _took, _summary, store = await _run(cfg, factory)
    store.close()
    return recording.last_generate_end - started


async def _level(cfg: Any, backend: VLLMBackend) -> tuple[float, int, int]:
    def factory(_alias: str, _cfg: ModelConfig) -> Any:
        return _Recording(backend)  # type: ignore[arg-type]

    took, summary, store = await _run(cfg, factory)
    tokens = sum(t.completion_tokens for t in store.all(Turn))
    store.close()
    return took, tokens, summary.completed


def _transcript(i: int, words: int) -> tuple[Question, list[Turn]]:
    """A distinct 4-speech debate: its first words differ, so no other one shares its cache."""
    return debate(words, tag=f"Debate {i}")


async def _judge_cost(
    backend: VLLMBackend, model: str, repeats: int, words: int, template: str = "judge_skeptic"
) -> Figures:
    judge = PromptedJudge("judge", model, load_template(template))
    sides = {"debater_1": 0, "debater_2": 1}

    def one_token(i: int) -> GenerateRequest:
        q, turns = _transcript(i, words)
        return GenerateRequest(
            judge.messages(q, turns, sides, ORDERS[0]), SamplingParams(max_new_tokens=1)
        )

    cached = backend.stats.cached_prompt_tokens, backend.stats.prompt_tokens
    q, turns = _transcript(-1, words)  # warm-up: the shared system prompt is cached after it
    await judge.judge(backend, q, turns, sides)
    await backend.generate([one_token(-2)])
    start = time.perf_counter()
    for i in range(repeats):
        q, turns = _transcript(i, words)
        await judge.judge(backend, q, turns, sides)
    judgment = (time.perf_counter() - start) / repeats
    start = time.perf_counter()
    for i in range(repeats):
        (done,) = await backend.generate([one_token(repeats + i)])
    token = (time.perf_counter() - start) / repeats
    return {
        "template": template,
        "orders_one_after_the_other": judge.orders_share_prefix and backend.caches_prefixes,
        "cached_prompt_share": round(
            (backend.stats.cached_prompt_tokens - cached[0])
            / max(backend.stats.prompt_tokens - cached[1], 1),
            3,
        ),
        **judge_figures(repeats, done, judgment, token),
    }


def _raw(path: str, kwargs: dict[str, Any], requests: list[GenerateRequest], per_round: int) -> Any:
    """The recorded requests through a fresh ``vllm.LLM``: (generated tokens, seconds)."""
    from vllm import LLM
    from vllm import SamplingParams as VSamplingParams
    from vllm.inputs import TokensPrompt

    apply_cpu_threads()
    llm = LLM(**kwargs)
    prompter = ChatPrompter.load(path)
    llm.generate([TokensPrompt(prompt_token_ids=prompter.encode("warm up"))], use_tqdm=False)
    tokens = 0
    started = time.perf_counter()
    for i in range(0, len(requests), per_round):
        batch = requests[i : i + per_round]
        prompts = [TokensPrompt(prompt_token_ids=prompter.generate_ids(r.messages)) for r in batch]
        params = VSamplingParams(max_tokens=batch[0].params.max_new_tokens, temperature=0.0)
        for out in llm.generate(prompts, params, use_tqdm=False):
            tokens += len(out.outputs[0].token_ids)
    took = time.perf_counter() - started
    llm.llm_engine.engine_core.shutdown()
    return tokens, took


def measure(
    model: str,
    workdir: Path,
    *,
    efficiency: tuple[int, int, int] = (16, 2, 32),
    scaling: tuple[int, tuple[int, ...], int] = (64, LEVELS, 16),
    judge: tuple[int, int] = (20, 120),
) -> Figures:
    folder = workdir / f"vllm-{time.monotonic_ns()}"
    folder.mkdir(parents=True)
    path = resolve_model(model)
    n, rounds, tokens = efficiency
    backend = VLLMBackend(path, name="m", **ENGINE)  # type: ignore[arg-type]
    asyncio.run(backend.start())
    out: Figures = {"backend": "vllm", "model": model}
    try:
        warm_up = GenerateRequest([{"role": "user", "content": "warm up"}])
        asyncio.run(backend.generate([warm_up]))
        questions = write_questions(folder / "questions.jsonl", n)
        cfg = _vllm_config(model, questions, n, rounds, tokens, f"sqlite:///{folder / 'e.db'}")
        recording = _Recording(backend)  # type: ignore[arg-type]
        framework_s = asyncio.run(_framework(cfg, recording))
        assert backend.options is not None
        kwargs = backend.options.engine_kwargs()

        sn, levels, new = scaling
        out["scaling"] = {"debates": sn, "max_new_tokens": new, "levels": {}}
        for k, c in enumerate(levels):
            # Questions of their own per level: none finds its prompts in the prefix cache.
            level_questions = write_questions(folder / f"c{c}.jsonl", sn, first=(k + 1) * 10_000)
            url = f"sqlite:///{folder / f'c{c}.db'}"
            level_cfg = _vllm_config(model, level_questions, sn, 1, new, url)
            level_cfg = level_cfg.model_copy(update={"concurrency": c})
            took, generated, done = asyncio.run(_level(level_cfg, backend))
            out["scaling"]["levels"][str(c)] = {
                "in_flight": c,
                "seconds": round(took, 2),
                "generated_tokens": generated,
                "tokens_per_s": round(generated / took, 1),
                "debates_per_s": round(done / took, 3),
            }
        first = out["scaling"]["levels"][str(levels[0])]["tokens_per_s"]
        out["scaling"]["speedup_vs_1"] = {
            k: round(v["tokens_per_s"] / first, 2) for k, v in out["scaling"]["levels"].items()
        }
        out["judge"] = asyncio.run(_judge_cost(backend, model, *judge))
        out["judge_shared_prefix"] = asyncio.run(
            _judge_cost(backend, model, *judge, template="judge_shared_prefix")
        )
    finally:
        asyncio.run(backend.aclose())

    raw_tokens, raw_s = _raw(path, kwargs, recording.requests, per_round=2 * n)
    out["efficiency"] = efficiency_figures(
        (n, rounds, tokens), recording, framework_s, raw_tokens, raw_s
    )
    return out


def run(options: Options) -> Figures:
    """Efficiency 16 x 2 x 32, scaling 64 at 1/4/16/64, 20 judgments (quick: tiny sizes)."""
    model = options.model or DEFAULT_MODEL
    if options.quick:
        return measure(
            model, options.workdir, efficiency=(2, 1, 4), scaling=(4, (1, 4), 4), judge=(2, 20)
        )
    return measure(model, options.workdir)
