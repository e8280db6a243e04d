"""Replay: the judge-ensemble subgraph alone, over an experiment's stored debates.

Judging is cheap and generating debates is not, so researchers re-judge stored transcripts
with new judges, prompts and ensembles. The replay context binds judges only: no debater or
consultant is bound, so no speech can be generated, and the turns and debates are only read.
Each judgment is stored under its judge's own id and looked up before it is computed, so a
replay that stops halfway resumes where it stopped, and a judge already run on a debate (in
the experiment itself or in another replay) is reused, not asked again.
"""

from __future__ import annotations

import asyncio
import logging
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from agents.judge import PromptedJudge
from graphs.context import GraphContext, JudgeBinding
from graphs.judges import build_judge_ensemble
from oversight.backends.base import Backend
from oversight.backends.factory import make_backend
from oversight.config import ModelConfig
from oversight.replay import ReplayConfig, record_ensemble, replay_debates
from oversight.store import Debate, Store

log = logging.getLogger(__name__)

BackendFactory = Callable[[str, ModelConfig], Backend]


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
        self._factory = backend_factory or make_backend
        self._backends: dict[str, Backend] = {}

    def backend(self, alias: str) -> Backend:
        if alias not in self._backends:
            self._backends[alias] = self._factory(alias, self.cfg.models[alias])
        return self._backends[alias]

    def judges(self) -> list[PromptedJudge]:
        return [
            PromptedJudge.from_template_name(
                j.name, self.cfg.models[j.model].model, j.prompt, j.sees_context
            )
            for j in self.cfg.judges
        ]

    def members(self) -> list[dict[str, Any]]:
        """The ensemble as recorded: each judge as configured, with its id."""
        return [
            {
                **j.model_dump(mode="json"),
                "model_ref": self.cfg.models[j.model].model,
                "judge_id": judge.judge_id,
            }
            for j, judge in zip(self.cfg.judges, self.judges(), strict=True)
        ]

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
        concurrency: int | None = None,
        progress: Callable[[int, int], None] | None = None,
    ) -> ReplaySummary:
        """Judge every complete debate of ``experiment``; record the ensemble as ``name``."""
        debates = replay_debates(self.store, experiment)
        members = self.members()
        record_ensemble(self.store, experiment, name, members)
        judge_ids = [m["judge_id"] for m in members]
        have = self._final_judgments(debates, set(judge_ids))
        todo = [d for d in debates if any((d.id, jid) not in have for jid in judge_ids)]
        summary = ReplaySummary(experiment, name, judge_ids, len(debates), len(todo), 0)
        done = len(debates) - len(todo)
        if progress:
            progress(done, len(debates))
        if not todo:
            return summary
        graph = build_judge_ensemble(self.context())
        limit = asyncio.Semaphore(concurrency or self.cfg.concurrency)

        async def one(debate: Debate) -> None:
            nonlocal done
            async with limit:
                try:
                    await graph.ainvoke({"debate_id": debate.id, "judgment_ids": []})
                except Exception as err:  # one debate's failure must not stop the others
                    msg = f"{type(err).__name__}: {err}"
                    log.debug("replay of %s failed:\n%s", debate.id, traceback.format_exc())
                    summary.failed += 1
                    summary.errors[debate.id] = msg
                done += 1
                if progress:
                    progress(done, len(debates))

        try:
            await asyncio.gather(*(one(d) for d in todo))
        finally:
            await self.aclose()
        summary.added = len(self._final_judgments(debates, set(judge_ids))) - len(have)
        return summary

    async def aclose(self) -> None:
        for b in self._backends.values():
            await b.aclose()
        self._backends.clear()
