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
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agents.judge import build_judges, ensemble_members
from graphs import GraphContext, JudgeBinding, initial_state
from oversight.backends.base import Backend
from oversight.config import ExperimentConfig
from oversight.data import load_questions
from oversight.executor import BackendFactory, Executor
from oversight.protocol_registry import protocol_spec
from oversight.replay import record_ensemble
from oversight.store import Debate, Experiment, Question, Store
from oversight.store.judges import EXPERIMENT_ENSEMBLE_NAME
from oversight.store.store import CLAIM_LEASE_S, claim_owner

log = logging.getLogger(__name__)


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


def plan_debates(
    cfg: ExperimentConfig, experiment: Experiment, questions: list[Question]
) -> list[Debate]:
    assert experiment.id is not None
    out = []
    for q in questions:
        for pname, proto in cfg.protocols.items():
            rounds = proto.planned_rounds()
            for assign in proto.assignments():
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
    kept_failed: int = 0
    """Debates that failed before and were left alone (rerun with ``retry_failed``)."""
    elsewhere: int = 0
    """Debates another process sharing the Store was running, left to it."""


def experiment_questions(cfg: ExperimentConfig) -> list[Question]:
    """The questions an experiment runs on, loaded as its ``[data]`` table says."""
    d = cfg.data
    return load_questions(
        d.source,
        path=d.path,
        split=d.split,
        limit=d.limit,
        seed=cfg.seed,
        binarize=d.binarize,
        strict=d.strict,
    )


class Runner:
    """Runs one experiment config against a Store."""

    def __init__(
        self,
        cfg: ExperimentConfig,
        store: Store,
        *,
        backend_factory: BackendFactory | None = None,
    ) -> None:
        self.cfg = cfg
        self.store = store
        self.executor = Executor(
            cfg.models, concurrency=cfg.concurrency, backend_factory=backend_factory
        )

    def backend(self, alias: str) -> Backend:
        return self.executor.backend(alias)

    def aliases(self) -> list[str]:
        """Every model alias the experiment's graphs call."""
        used = [j.model for j in self.cfg.judges]
        for proto in self.cfg.protocols.values():
            used += proto.models_used().values()
        return list(dict.fromkeys(used))

    def context(self) -> GraphContext:
        """The runtime context every protocol graph of the run reads."""
        judges = [
            JudgeBinding(judge, self.backend(j.model))
            for j, judge in zip(
                self.cfg.judges, build_judges(self.cfg.judges, self.cfg.models), strict=True
            )
        ]
        return GraphContext(
            store=self.store,
            judges=judges,
            backend=self.backend,
            models=self.cfg.models,
            seed=self.cfg.seed,
        )

    def graphs(self) -> dict[str, Any]:
        """One compiled graph per protocol, built by the protocol's registered builder."""
        return {
            pname: protocol_spec(proto.kind).build(pname, proto)
            for pname, proto in self.cfg.protocols.items()
        }

    def prepare(self) -> tuple[Experiment, list[Question], list[Debate]]:
        """Open the experiment, store its questions and plan its debates (idempotent).

        Judges and questions are checked before anything is written: a config that fails on
        its data or templates leaves no Experiment row to block the corrected config.
        """
        cfg = self.cfg
        judges = build_judges(cfg.judges, cfg.models)
        questions = experiment_questions(cfg)
        exp = self.store.open_experiment(
            cfg.name, cfg.stored_config(), cfg.config_hash(), code_version()
        )
        record_ensemble(
            self.store,
            cfg.name,
            EXPERIMENT_ENSEMBLE_NAME,
            ensemble_members(cfg.judges, cfg.models, judges),
        )
        self.store.add_questions(questions)
        planned = plan_debates(cfg, exp, questions)
        self.store.insert_ignore(planned)
        return exp, questions, planned

    async def run(
        self, progress: Callable[[int, int], None] | None = None, *, retry_failed: bool = False
    ) -> RunSummary:
        """Run every pending debate (and, with ``retry_failed``, every failed one).

        Raises:
            BackendStartError: a model could not start; no debate was run or marked failed.
        """
        exp, questions, planned = self.prepare()
        stored = {d.id: d.status for d in self.store.debates(exp.id or 0)}
        wanted = {"pending", "failed"} if retry_failed else {"pending"}
        todo = [d for d in planned if stored.get(d.id, "pending") in wanted]
        kept = sum(1 for d in planned if stored.get(d.id) == "failed") if not retry_failed else 0
        summary = RunSummary(self.cfg.name, len(questions), len(planned), len(todo), 0, 0)
        summary.kept_failed = kept
        if progress:
            progress(len(planned) - len(todo), len(planned))
        if not todo:
            return summary
        owner = claim_owner()
        in_flight: set[str] = set()
        renewing = asyncio.create_task(self._renew(owner, in_flight))
        try:
            await self.executor.start(self.aliases())
            ctx = self.context()
            graphs = self.graphs()
            by_id = {q.id: q for q in questions}

            async def work(d: Debate) -> bool:
                # Several processes may share this Store: each debate is run by one of them.
                if not self.store.claim(d.id, owner, sorted(wanted)):
                    return False
                # The planned row and its question are in memory: the nodes need not read them.
                ctx.remember(d, by_id[d.question_id])
                in_flight.add(d.id)
                try:
                    await graphs[d.protocol].ainvoke(initial_state(d.id), context=ctx)
                finally:
                    in_flight.discard(d.id)
                    self.store.release_claim(d.id, owner)
                return True

            def failed(d: Debate, reason: str, trace: str) -> None:
                self.store.set_status(d.id, "failed", reason, trace)

            outcome = await self.executor.run(
                todo,
                work,
                on_failure=failed,
                progress=progress,
                done=len(planned) - len(todo),
                total=len(planned),
            )
        finally:
            renewing.cancel()
            await self.aclose()
        summary.completed, summary.failed, summary.errors = (
            outcome.completed,
            outcome.failed,
            outcome.errors,
        )
        summary.elsewhere = outcome.skipped
        summary.ran -= outcome.skipped
        return summary

    async def _renew(self, owner: str, in_flight: set[str]) -> None:
        """Keep this process's claims alive while it works (a long debate outlives a lease)."""
        while True:
            await asyncio.sleep(CLAIM_LEASE_S / 4)
            if in_flight:
                await asyncio.to_thread(self.store.renew_claims, list(in_flight), owner)

    async def aclose(self) -> None:
        await self.executor.aclose()
