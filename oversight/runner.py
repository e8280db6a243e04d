"""Streams questions through protocol graphs with bounded concurrency.

The runner plans every Debate row up front (insert-or-ignore), then runs the graph of each
debate that is not complete. A failure in one debate is recorded on its row and never stops
the others; rerunning the same config picks up exactly what is missing.

Planning and running go through the questions in chunks of :data:`PLAN_CHUNK`: the planned
Debate rows of a chunk are written and dropped, and planned again from their questions when
the chunk's turn to run comes, so memory holds the questions and one chunk of debates, not
every debate of the experiment.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import subprocess
from collections import Counter
from collections.abc import Callable, Iterator
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

PLAN_CHUNK = 500
"""Questions planned, written and run as one chunk."""


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
class Prepared:
    """An opened experiment, its questions, and what its planned debates' stored status is."""

    experiment: Experiment
    questions: list[Question]
    planned: int
    statuses: Counter[str]
    """Planned debates by stored status."""
    open_chunks: list[int]
    """Chunks (of :data:`PLAN_CHUNK` questions) holding a pending or failed debate."""

    def chunk(self, index: int) -> list[Question]:
        return self.questions[index * PLAN_CHUNK : (index + 1) * PLAN_CHUNK]


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
        self.prepared: Prepared | None = None
        """What the last :meth:`run` prepared."""
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

    def prepare(self) -> Prepared:
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
        prepared = Prepared(exp, questions, 0, Counter(), [])
        for index in range((len(questions) + PLAN_CHUNK - 1) // PLAN_CHUNK):
            chunk = prepared.chunk(index)
            self.store.add_questions(chunk)
            planned = plan_debates(cfg, exp, chunk)
            self.store.insert_ignore(planned)
            stored = self.store.statuses([d.id for d in planned])
            statuses = Counter(stored.get(d.id, "pending") for d in planned)
            prepared.planned += len(planned)
            prepared.statuses += statuses
            if statuses["pending"] or statuses["failed"]:
                prepared.open_chunks.append(index)
        return prepared

    def _todo(self, prepared: Prepared, wanted: set[str]) -> Iterator[tuple[Debate, Question]]:
        """The debates to run with their questions, planned again one chunk at a time."""
        for index in prepared.open_chunks:
            chunk = {q.id: q for q in prepared.chunk(index)}
            planned = plan_debates(self.cfg, prepared.experiment, list(chunk.values()))
            stored = self.store.statuses([d.id for d in planned])
            for d in planned:
                if stored.get(d.id, "pending") in wanted:
                    yield d, chunk[d.question_id]

    async def run(
        self, progress: Callable[[int, int], None] | None = None, *, retry_failed: bool = False
    ) -> RunSummary:
        """Run every pending debate (and, with ``retry_failed``, every failed one).

        Raises:
            BackendStartError: a model could not start; no debate was run or marked failed.
        """
        prepared = self.prepared = self.prepare()
        planned = prepared.planned
        wanted = {"pending", "failed"} if retry_failed else {"pending"}
        todo = sum(prepared.statuses[s] for s in wanted)
        summary = RunSummary(self.cfg.name, len(prepared.questions), planned, todo, 0, 0)
        summary.kept_failed = 0 if retry_failed else prepared.statuses["failed"]
        if progress:
            progress(planned - todo, planned)
        if not todo:
            return summary
        owner = claim_owner()
        in_flight: set[str] = set()
        renewing = asyncio.create_task(self._renew(owner, in_flight))
        try:
            await self.executor.start(self.aliases())
            ctx = self.context()
            graphs = self.graphs()
            questions: dict[str, Question] = {}

            def debates() -> Iterator[Debate]:
                for d, q in self._todo(prepared, wanted):
                    questions[d.id] = q
                    yield d

            async def work(d: Debate) -> bool:
                question = questions.pop(d.id)
                # Several processes may share this Store: each debate is run by one of them.
                if not self.store.claim(d.id, owner, sorted(wanted)):
                    return False
                # The planned row and its question are in memory: the nodes need not read them.
                ctx.remember(d, question)
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
                debates(),
                work,
                on_failure=failed,
                progress=progress,
                done=planned - todo,
                total=planned,
            )
        finally:
            renewing.cancel()
            await self.aclose()
        if progress:  # debates another process finished meanwhile were never handed out here
            progress(planned, planned)
        summary.completed, summary.failed, summary.errors = (
            outcome.completed,
            outcome.failed,
            outcome.errors,
        )
        # Debates another process took between planning and their turn here were run there.
        summary.ran = outcome.completed + outcome.failed
        summary.elsewhere = todo - summary.ran
        return summary

    async def _renew(self, owner: str, in_flight: set[str]) -> None:
        """Keep this process's claims alive while it works (a long debate outlives a lease)."""
        while True:
            await asyncio.sleep(CLAIM_LEASE_S / 4)
            if in_flight:
                await asyncio.to_thread(self.store.renew_claims, list(in_flight), owner)

    async def aclose(self) -> None:
        await self.executor.aclose()
