"""Whole experiments through the protocol graphs on the tiny offline model."""

from __future__ import annotations

import asyncio
import re
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
    # Both orders really were presented: for every question, the judges saw its two answers
    # as A/B exactly as often as B/A.
    scored = made[0].scored
    assert len(scored) == 2 * 2 * 10
    shown: dict[str, list[tuple[str, str]]] = {}
    for r in scored:
        user = r.messages[-1]["content"]
        question = user.split("Question: ", 1)[1].split("\n", 1)[0]
        a, b = (re.search(rf"\n{x}[:)] (.*)\n", user).group(1) for x in "AB")  # type: ignore[union-attr]
        shown.setdefault(question, []).append((a, b))
    by_text = {q.text: q.choices for q in store.all(Question)}
    assert set(shown) == set(by_text)
    for text, pairs in shown.items():
        c0, c1 = by_text[text]
        assert sorted(pairs) == sorted([(c0, c1), (c1, c0)] * (len(pairs) // 2))
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
    assert all("BackendError: model refused" in (d.traceback or "") for d in failed)
    assert all("Traceback (most recent call last)" in (d.traceback or "") for d in failed)
    # A plain rerun leaves failed debates alone; --retry-failed runs exactly those.
    plain = asyncio.run(Runner(cfg, store, backend_factory=make_recording()[0]).run())
    assert (plain.ran, plain.kept_failed) == (0, 4)
    factory2, made2 = make_recording()
    again = asyncio.run(Runner(cfg, store, backend_factory=factory2).run(retry_failed=True))
    assert (again.ran, again.completed, again.failed) == (4, 4, 0)
    # Only the missing round-2 speeches were generated; nothing was duplicated.
    assert len(made2[0].generated) == 4
    assert store.count(Turn) == 24
    assert all(d.status == "complete" for d in store.all(Debate))


def _direct_only(tiny_chat_model, store):
    return tiny_config(
        tiny_chat_model,
        store.url,
        data={"source": "arc", "limit": 1},
        protocols={"direct": {"kind": "direct"}},
        judges=[{"name": "plain", "model": "m", "prompt": "judge"}],
    )


def test_backend_errors_are_not_retried_by_the_graph(tiny_chat_model, make_recording, tmp_path):
    """Backends own their retries: the graph never asks again, so a request is tried at most
    as often as its backend decides (the openai backend's max_retries + 1)."""
    store = _store(tmp_path)
    calls = {"n": 0}

    def flaky(request):
        calls["n"] += 1
        return BackendError("503 overloaded", transient=True) if calls["n"] == 1 else None

    factory, _ = make_recording(flaky)
    summary = asyncio.run(
        Runner(_direct_only(tiny_chat_model, store), store, backend_factory=factory).run()
    )
    assert (summary.completed, summary.failed) == (0, 1)
    assert calls["n"] == 2  # the two presentation orders, each asked once


def test_a_locked_store_is_retried(tiny_chat_model, make_recording, tmp_path):
    from sqlalchemy.exc import OperationalError

    store = _store(tmp_path)
    calls = {"n": 0}

    def locked_once(request):
        calls["n"] += 1
        if calls["n"] == 1:
            return OperationalError("INSERT", {}, Exception("database is locked"))
        return None

    factory, _ = make_recording(locked_once)
    summary = asyncio.run(
        Runner(_direct_only(tiny_chat_model, store), store, backend_factory=factory).run()
    )
    assert (summary.completed, summary.failed) == (1, 0)
    assert store.count(Judgment) == 1


def test_long_debates_do_not_hit_the_recursion_limit(long_context_model, make_recording, tmp_path):
    """12 simultaneous or 10 sequential rounds take more than LangGraph's default 25 steps."""
    store = _store(tmp_path)
    gen = {"max_new_tokens": 2}
    cfg = tiny_config(
        long_context_model,
        store.url,
        data={"source": "arc", "split": "test", "limit": 1},
        protocols={
            "long": {
                "kind": "debate",
                "model": "m",
                "rounds": 12,
                "swap": False,
                "generation": gen,
            },
            "long-seq": {
                "kind": "debate",
                "model": "m",
                "rounds": 10,
                "swap": False,
                "turns": "sequential",
                "generation": gen,
            },
        },
        judges=[{"name": "plain", "model": "m", "prompt": "judge"}],
    )
    factory, _ = make_recording()
    summary = asyncio.run(Runner(cfg, store, backend_factory=factory).run())
    assert (summary.completed, summary.failed) == (2, 0), summary.errors
    rounds = {d.protocol: {t.round for t in store.turns(d.id)} for d in store.all(Debate)}
    assert rounds == {"long": set(range(12)), "long-seq": set(range(10))}
