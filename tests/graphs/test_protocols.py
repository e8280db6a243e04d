"""Whole experiments through the protocol graphs on the tiny offline model."""

from __future__ import annotations

import asyncio
from pathlib import Path

from oversight.backends.base import BackendError
from oversight.runner import Runner
from oversight.store import Debate, Judgment, Question, Store, Turn
from tests.graphs.conftest import tiny_config


def _store(tmp_path: Path) -> Store:
    return Store(f"sqlite:///{tmp_path / 'exp.db'}")


def _counts(store: Store) -> tuple[int, int, int, int]:
    return (store.count(Question), store.count(Debate), store.count(Turn), store.count(Judgment))


def test_experiment_runs_all_protocols_and_resumes(tiny_chat_model, make_recording, tmp_path):
    store = _store(tmp_path)
    cfg = tiny_config(tiny_chat_model, store.url)
    factory, made = make_recording()
    summary = asyncio.run(Runner(cfg, store, backend_factory=factory).run())
    assert (summary.planned, summary.completed, summary.failed) == (10, 10, 0)
    # Per question: debate x2 assignments, consultancy x2, direct x1.
    assert _counts(store) == (2, 10, 2 * (8 + 4), 10 * 2)
    debates = store.all(Debate)
    assert all(d.status == "complete" for d in debates)
    for d in debates:
        turns = store.turns(d.id)
        expected = {"debate": 4, "consultancy": 2, "direct": 0}[d.protocol]
        assert len(turns) == expected
        assert all(t.text and t.completion_tokens > 0 for t in turns)
    for j in store.all(Judgment):
        assert set(j.probs_by_order) == {"0,1", "1,0"}
        for probs in j.probs_by_order.values():
            assert abs(sum(probs) - 1) < 1e-6
        avg = [(a + b) / 2 for a, b in zip(*j.probs_by_order.values(), strict=True)]
        assert j.probs == avg
    # Both orders really were presented: the judge saw answer texts swapped.
    scored = made[0].scored
    assert len(scored) == 2 * 2 * 10
    # The rerun adds nothing, never loads the model and never calls a backend.
    factory2, made2 = make_recording()
    again = asyncio.run(Runner(cfg, store, backend_factory=factory2).run())
    assert (again.ran, again.completed) == (0, 0)
    assert _counts(store) == (2, 10, 24, 20)
    assert made2 == []


def test_simultaneous_vs_sequential_visibility(tiny_chat_model, make_recording, tmp_path):
    for turns in ("simultaneous", "sequential"):
        store = Store(f"sqlite:///{tmp_path / f'{turns}.db'}")
        gen = {"max_new_tokens": 6}
        cfg = tiny_config(
            tiny_chat_model,
            store.url,
            data={"source": "arc", "limit": 1},
            protocols={
                "debate": {
                    "kind": "debate",
                    "model": "m",
                    "rounds": 1,
                    "swap": False,
                    "turns": turns,
                    "generation": gen,
                }
            },
        )
        factory, made = make_recording()
        asyncio.run(Runner(cfg, store, backend_factory=factory).run())
        (debate,) = store.all(Debate)
        first = store.turn(debate.id, 0, "debater_1")
        assert first is not None
        prompts = {r.messages[1]["content"] for r in made[0].generated}
        second = [p for p in prompts if "Transcript so far" in p]
        if turns == "sequential":
            assert len(second) == 1 and first.text.strip() in second[0]
        else:
            assert second == []


def test_failed_debate_is_recorded_and_rerun_completes_it(
    tiny_chat_model, make_recording, tmp_path
):
    store = _store(tmp_path)
    cfg = tiny_config(tiny_chat_model, store.url)

    def consultant_round_2_fails(request):
        # A non-transient error in every consultancy round-2 speech.
        content = request.messages[0]["content"]
        if "consultant" in content and "round 2" in request.messages[1]["content"]:
            return BackendError("model refused", transient=False)
        return None

    factory, _ = make_recording(consultant_round_2_fails)
    summary = asyncio.run(Runner(cfg, store, backend_factory=factory).run())
    assert summary.failed == 4 and summary.completed == 6
    failed = store.all(Debate, Debate.status == "failed")
    assert {d.protocol for d in failed} == {"consultancy"}
    assert all("model refused" in (d.error or "") for d in failed)
    kept = store.count(Turn)  # the round-1 speeches of the failed runs were kept
    assert kept == 2 * 8 + 4 * 1
    factory2, made2 = make_recording()
    again = asyncio.run(Runner(cfg, store, backend_factory=factory2).run())
    assert (again.ran, again.completed, again.failed) == (4, 4, 0)
    # Only the missing round-2 speeches were generated; nothing was duplicated.
    assert len(made2[0].generated) == 4
    assert store.count(Turn) == 24
    assert all(d.status == "complete" for d in store.all(Debate))


def test_transient_error_is_retried(tiny_chat_model, make_recording, tmp_path):
    store = _store(tmp_path)
    cfg = tiny_config(
        tiny_chat_model,
        store.url,
        data={"source": "arc", "limit": 1},
        protocols={"direct": {"kind": "direct"}},
    )
    calls = {"n": 0}

    def flaky(request):
        calls["n"] += 1
        return BackendError("503 overloaded", transient=True) if calls["n"] == 1 else None

    factory, _ = make_recording(flaky)
    summary = asyncio.run(Runner(cfg, store, backend_factory=factory).run())
    assert (summary.completed, summary.failed) == (1, 0)
    assert store.count(Judgment) == 2
