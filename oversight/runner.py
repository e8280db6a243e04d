"""Streams questions through protocol graphs with bounded concurrency.

The runner plans every Debate row up front (insert-or-ignore), then runs the graph of each
debate that is not complete. A failure in one debate is recorded on its row and never stops
the others; rerunning the same config picks up exactly what is missing.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import subprocess
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agents.debater import Advocate
from agents.judge import PromptedJudge
from graphs import GraphContext, JudgeBinding, build_protocol_graph, debate_speakers
from oversight.backends.base import Backend, SamplingParams
from oversight.backends.factory import make_backend
from oversight.config import (
    ConsultancyProtocol,
    DebateProtocol,
    DirectProtocol,
    ExperimentConfig,
)
from oversight.data import load_questions
from oversight.store import Debate, Experiment, Question, Store

log = logging.getLogger(__name__)

BackendFactory = Callable[[str, Any], Backend]


def code_version() -> str:
    """Package version plus the git commit when running from a checkout."""
    from importlib.metadata import version

    ver = version("oversight")
    try:
        sha = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=Path(__file__).parent,
            capture_output=True,
            text=True,
            timeout=5,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        sha = ""
    return f"{ver}+{sha}" if sha else ver


def debate_id(experiment: str, key: str) -> str:
    return hashlib.sha256(f"{experiment}\n{key}".encode()).hexdigest()[:20]


def assignments(
    proto: DebateProtocol | ConsultancyProtocol | DirectProtocol,
) -> list[dict[str, int]]:
    """Who argues which choice, for each run of a protocol on one binarized question."""
    if isinstance(proto, DebateProtocol):
        first = dict(zip(debate_speakers(), [0, 1], strict=True))
        return [first, dict(zip(debate_speakers(), [1, 0], strict=True))] if proto.swap else [first]
    if isinstance(proto, ConsultancyProtocol):
        return [{"consultant": 0}, {"consultant": 1}]
    return [{}]


def plan_debates(
    cfg: ExperimentConfig, experiment: Experiment, questions: list[Question]
) -> list[Debate]:
    assert experiment.id is not None
    out = []
    for q in questions:
        for pname, proto in cfg.protocols.items():
            rounds = 0 if isinstance(proto, DirectProtocol) else proto.rounds
            for assign in assignments(proto):
                who = ",".join(f"{s}={c}" for s, c in assign.items()) or "-"
                key = f"{pname}|{q.id}|{who}|seed={cfg.seed}"
                out.append(
                    Debate(
                        id=debate_id(cfg.name, key),
                        experiment_id=experiment.id,
                        question_id=q.id,
                        protocol=pname,
                        key=key,
                        assignment=assign,
                        rounds=rounds,
                        seed=cfg.seed,
                    )
                )
    return out


@dataclass
class RunSummary:
    experiment: str
    questions: int
    planned: int
    ran: int
    completed: int
    failed: int
    errors: dict[str, str] = field(default_factory=dict)


class Runner:
    """Runs one experiment config against a Store."""

    def __init__(
        self,
        cfg: ExperimentConfig,
        store: Store,
        *,
        backend_factory: BackendFactory = make_backend,
    ) -> None:
        self.cfg = cfg
        self.store = store
        self._factory = backend_factory
        self._backends: dict[str, Backend] = {}

    def backend(self, alias: str) -> Backend:
        if alias not in self._backends:
            self._backends[alias] = self._factory(alias, self.cfg.models[alias])
        return self._backends[alias]

    def context(self) -> GraphContext:
        judges = [
            JudgeBinding(
                PromptedJudge.from_template_name(
                    j.name, self.cfg.models[j.model].model, j.prompt, j.sees_context
                ),
                self.backend(j.model),
            )
            for j in self.cfg.judges
        ]
        ctx = GraphContext(store=self.store, judges=judges)
        for pname, proto in self.cfg.protocols.items():
            if isinstance(proto, DebateProtocol | ConsultancyProtocol):
                gen = proto.generation
                params = SamplingParams(
                    max_new_tokens=gen.max_new_tokens,
                    temperature=gen.temperature,
                    top_p=gen.top_p,
                    seed=self.cfg.seed,
                )
                role = "debater" if isinstance(proto, DebateProtocol) else "consultant"
                ctx.advocates[pname] = (
                    Advocate(role, proto.word_limit, params),
                    self.backend(proto.model),
                    self.cfg.models[proto.model].model,
                )
        return ctx

    def graphs(self, ctx: GraphContext) -> dict[str, Any]:
        out = {}
        for pname, proto in self.cfg.protocols.items():
            if isinstance(proto, DebateProtocol):
                out[pname] = build_protocol_graph(
                    ctx, pname, speakers=debate_speakers(), rounds=proto.rounds, turns=proto.turns
                )
            elif isinstance(proto, ConsultancyProtocol):
                out[pname] = build_protocol_graph(
                    ctx, pname, speakers=["consultant"], rounds=proto.rounds
                )
            else:
                out[pname] = build_protocol_graph(ctx, pname, speakers=[], rounds=0)
        return out

    def prepare(self) -> tuple[Experiment, list[Question], list[Debate]]:
        """Open the experiment, store its questions and plan its debates (idempotent)."""
        cfg = self.cfg
        exp = self.store.open_experiment(
            cfg.name, cfg.model_dump(mode="json"), cfg.config_hash(), code_version()
        )
        questions = load_questions(
            cfg.data.source,
            path=cfg.data.path,
            split=cfg.data.split,
            limit=cfg.data.limit,
            seed=cfg.seed,
            binarize=cfg.data.binarize,
        )
        self.store.add_questions(questions)
        planned = plan_debates(cfg, exp, questions)
        self.store.insert_ignore(planned)
        return exp, questions, planned

    async def run(self, progress: Callable[[int, int], None] | None = None) -> RunSummary:
        exp, questions, planned = self.prepare()
        done = {d.id for d in self.store.debates(exp.id or 0, status="complete")}
        todo = [d for d in planned if d.id not in done]
        summary = RunSummary(self.cfg.name, len(questions), len(planned), len(todo), 0, 0)
        if progress:
            progress(len(planned) - len(todo), len(planned))
        if not todo:
            return summary
        ctx = self.context()
        graphs = self.graphs(ctx)
        limit = asyncio.Semaphore(self.cfg.concurrency)
        finished = len(planned) - len(todo)

        async def one(d: Debate) -> None:
            nonlocal finished
            async with limit:
                try:
                    await graphs[d.protocol].ainvoke(
                        {"debate_id": d.id, "round": 0, "judgment_ids": []}
                    )
                    summary.completed += 1
                except Exception as err:  # one debate's failure must not stop the others
                    msg = f"{type(err).__name__}: {err}"
                    log.debug("debate %s failed:\n%s", d.id, traceback.format_exc())
                    self.store.set_status(d.id, "failed", msg)
                    summary.failed += 1
                    summary.errors[d.id] = msg
                finished += 1
                if progress:
                    progress(finished, len(planned))

        try:
            await asyncio.gather(*(one(d) for d in todo))
        finally:
            await self.aclose()
        return summary

    async def aclose(self) -> None:
        for b in self._backends.values():
            await b.aclose()
        self._backends.clear()
