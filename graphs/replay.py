"""Replay: the judge-ensemble subgraph alone, over an experiment's stored debates.

Judging is cheap and generating debates is not, so researchers re-judge stored transcripts
with new judges, prompts and ensembles. The replay context binds judges only: no debater or
consultant is bound, so no speech can be generated, and the turns and debates are only read.
Each judgment is stored under its judge's own id and looked up before it is computed, so a
replay that stops halfway resumes where it stopped, and a judge already run on a debate (in
the experiment itself or in another replay) is reused, not asked again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from agents.judge import PromptedJudge, build_judges, ensemble_members
from graphs.context import GraphContext, JudgeBinding
from graphs.judges import build_judge_ensemble
from oversight.backends.base import Backend
from oversight.executor import BackendFactory, Executor
from oversight.replay import ReplayConfig, record_ensemble, replay_debates
from oversight.store import Debate, Store
from oversight.store.judges import FINAL_VERDICT

log = logging.getLogger(__name__)


@dataclass
class ReplaySummary:
    """What a replay did."""

    experiment: str
    ensemble: str
    judge_ids: list[str]
    debates: int
    """Complete debates of the experiment."""
    judged: int
    """Debates that lacked a judgment of at least one member, and were judged."""
    added: int
    """Judgments added."""
    failed: int = 0
    errors: dict[str, str] = field(default_factory=dict)


class Replayer:
    """Judges an experiment's stored debates with the ensemble of a judges file."""

    def __init__(
        self,
        cfg: ReplayConfig,
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

    def judges(self) -> list[PromptedJudge]:
        return build_judges(self.cfg.judges, self.cfg.models)

    def members(self) -> list[dict[str, Any]]:
        """The ensemble as recorded: each judge as configured, with its id."""
        return ensemble_members(self.cfg.judges, self.cfg.models, self.judges())

    def context(self) -> GraphContext:
        """Judges bound to their backends, and no advocate: nothing here can give a speech."""
        bindings = [
            JudgeBinding(judge, self.backend(j.model))
            for j, judge in zip(self.cfg.judges, self.judges(), strict=True)
        ]
        return GraphContext(store=self.store, judges=bindings)

    def _final_judgments(self, debates: list[Debate], judge_ids: set[str]) -> set[tuple[str, str]]:
        return {
            (j.debate_id, j.judge_id)
            for j in self.store.judgments([d.id for d in debates])
            if j.after_round == -1 and j.judge_id in judge_ids
        }

    async def run(
        self,
        experiment: str,
        name: str,
        *,
        progress: Callable[[int, int], None] | None = None,
    ) -> ReplaySummary:
        """Judge every complete debate of ``experiment``; record the ensemble as ``name``.

        A debate whose judging fails is reported in the summary and stays as it was (complete,
        with the judgments it had): its transcript is not at fault.
        """
        debates = replay_debates(self.store, experiment)
        members = self.members()
        record_ensemble(self.store, experiment, name, members)
        judge_ids = [m["judge_id"] for m in members]
        have = self._final_judgments(debates, set(judge_ids))
        todo = [d for d in debates if any((d.id, jid) not in have for jid in judge_ids)]
        summary = ReplaySummary(experiment, name, judge_ids, len(debates), len(todo), 0)
        if progress:
            progress(len(debates) - len(todo), len(debates))
        if not todo:
            return summary
        try:
            await self.executor.start(j.model for j in self.cfg.judges)
            graph = build_judge_ensemble()
            ctx = self.context()

            async def work(debate: Debate) -> None:
                await graph.ainvoke(
                    {"debate_id": debate.id, "after_round": FINAL_VERDICT, "judgment_ids": []},
                    context=ctx,
                )

            outcome = await self.executor.run(
                todo,
                work,
                progress=progress,
                done=len(debates) - len(todo),
                total=len(debates),
            )
        finally:
            await self.aclose()
        summary.failed, summary.errors = outcome.failed, outcome.errors
        summary.added = len(self._final_judgments(debates, set(judge_ids))) - len(have)
        return summary

    async def aclose(self) -> None:
        await self.executor.aclose()
