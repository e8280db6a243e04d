"""The runner plans, writes and runs the questions in chunks; a resumed run opens only the
chunks that hold work."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from oversight import runner as runner_module
from oversight.config import ExperimentConfig
from oversight.runner import Runner
from oversight.store import Debate, Judgment, Store
from tests.graphs.conftest import tiny_config


def _config(model: Path, url: str) -> ExperimentConfig:
    return tiny_config(
        model,
        url,
        data={"source": "arc", "split": "test", "limit": 5},
        protocols={"direct": {"kind": "direct"}},
        judges=[{"name": "plain", "model": "m", "prompt": "judge"}],
    )


def test_chunks_run_every_debate_and_a_rerun_opens_only_the_chunk_with_work(
    tiny_chat_model: Path, make_recording, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(runner_module, "PLAN_CHUNK", 2)  # 5 questions: chunks of 2, 2, 1
    store = Store(f"sqlite:///{tmp_path / 'exp.db'}")
    cfg = _config(tiny_chat_model, store.url)
    fresh = Runner(cfg, store).prepare()
    assert (fresh.planned, fresh.open_chunks) == (5, [0, 1, 2])
    assert dict(fresh.statuses) == {"pending": 5}
    assert [len(fresh.chunk(i)) for i in range(3)] == [2, 2, 1]

    factory, _ = make_recording()
    summary = asyncio.run(Runner(cfg, store, backend_factory=factory).run())
    assert (summary.planned, summary.ran, summary.completed, summary.failed) == (5, 5, 5, 0)
    debates = store.all(Debate)
    assert len(debates) == 5 and all(d.status == "complete" for d in debates)
    assert store.count(Judgment) == 5

    # One debate of the second chunk fails after the fact: only that chunk is opened again.
    second = {q.id for q in fresh.chunk(1)}
    victim = next(d for d in debates if d.question_id in second)
    store.set_status(victim.id, "failed", "RuntimeError: forced", "")
    again = Runner(cfg, store).prepare()
    assert again.open_chunks == [1]
    assert dict(again.statuses) == {"complete": 4, "failed": 1}

    factory2, made2 = make_recording()
    kept = asyncio.run(Runner(cfg, store, backend_factory=factory2).run())
    assert (kept.ran, kept.kept_failed, made2) == (0, 1, [])
    factory3, made3 = make_recording()
    retried = asyncio.run(Runner(cfg, store, backend_factory=factory3).run(retry_failed=True))
    assert (retried.ran, retried.completed, retried.kept_failed) == (1, 1, 0)
    # Its judgment was stored before the failure was forced: the rerun finds it, scores nothing.
    assert made3[0].scored == []
    assert store.debate(victim.id).status == "complete"
    assert store.statuses([victim.id, "not-a-debate"]) == {victim.id: "complete"}
    store.close()


def test_a_debate_finished_elsewhere_after_planning_is_not_run_and_progress_ends_full(
    tiny_chat_model: Path, make_recording, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another process sharing the Store completes a debate between this run's planning and
    its chunk's turn (forced here right after ``prepare``): it is not run here, it counts as
    run elsewhere, and progress still ends at the total."""
    monkeypatch.setattr(runner_module, "PLAN_CHUNK", 2)
    store = Store(f"sqlite:///{tmp_path / 'exp.db'}")
    cfg = _config(tiny_chat_model, store.url)
    taken: list[str] = []

    class Elsewhere(Runner):
        def prepare(self) -> runner_module.Prepared:
            prepared = super().prepare()
            last = prepared.chunk(2)[0]  # the third chunk's question: planned, not yet run
            (debate,) = [d for d in store.all(Debate) if d.question_id == last.id]
            store.set_status(debate.id, "complete")
            taken.append(debate.id)
            return prepared

    seen: list[tuple[int, int]] = []
    factory, _ = make_recording()
    summary = asyncio.run(
        Elsewhere(cfg, store, backend_factory=factory).run(lambda d, t: seen.append((d, t)))
    )
    assert (summary.planned, summary.ran, summary.completed, summary.elsewhere) == (5, 4, 4, 1)
    assert seen[-1] == (5, 5)
    assert store.count(Judgment) == 4  # the debate taken elsewhere got no judgment here
    assert all(j.debate_id != taken[0] for j in store.all(Judgment))
    store.close()
