"""The executor's bounded concurrency: at most ``concurrency`` debates and tasks at once, lazy
inputs consumed in order, one failure never stopping the others."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from oversight.executor import Executor
from oversight.store import Debate


def _debates(n: int) -> Iterator[Debate]:
    for i in range(n):
        yield Debate(id=f"d{i}", experiment_id=1, question_id=f"q{i}", protocol="p", key=str(i))


def test_at_most_concurrency_at_once_and_tasks_bounded_by_it_not_by_debates() -> None:
    running = peak = peak_tasks = 0
    started: list[str] = []
    consumed = 0

    def lazily(n: int) -> Iterator[Debate]:
        nonlocal consumed
        for d in _debates(n):
            consumed += 1
            yield d

    async def work(d: Debate) -> bool:
        nonlocal running, peak, peak_tasks
        started.append(d.id)
        running += 1
        peak = max(peak, running)
        peak_tasks = max(peak_tasks, len(asyncio.all_tasks()))
        # never more than the workers' debates taken from the iterator ahead of the work
        assert consumed <= len(started) + 3
        await asyncio.sleep(0)
        running -= 1
        return d.id != "d7"  # one declined

    seen: list[tuple[int, int]] = []
    outcome = asyncio.run(
        Executor({}, concurrency=3).run(
            lazily(500), work, progress=lambda done, total: seen.append((done, total)), total=500
        )
    )
    assert (outcome.completed, outcome.skipped, outcome.failed) == (499, 1, 0)
    assert started == [f"d{i}" for i in range(500)]  # in order
    assert peak == 3
    assert peak_tasks <= 3 + 1  # the workers and the caller's task, whatever the debate count
    assert seen[0] == (0, 500) and seen[-1] == (500, 500)


def test_a_failing_debate_is_recorded_and_the_others_finish() -> None:
    failures: list[tuple[str, str]] = []

    async def work(d: Debate) -> None:
        if d.id == "d2":
            raise ValueError("bad speech")

    outcome = asyncio.run(
        Executor({}, concurrency=4).run(
            list(_debates(6)),
            work,
            on_failure=lambda d, reason, _tb: failures.append((d.id, reason)),
        )
    )
    assert (outcome.completed, outcome.failed) == (5, 1)
    assert failures == [("d2", "ValueError: bad speech")]
    assert outcome.errors == {"d2": "ValueError: bad speech"}


@pytest.mark.parametrize("n", [0, 2])
def test_fewer_debates_than_workers(n: int) -> None:
    done: list[str] = []

    async def work(d: Debate) -> None:
        done.append(d.id)

    outcome = asyncio.run(Executor({}, concurrency=8).run(list(_debates(n)), work))
    assert outcome.completed == n and done == [f"d{i}" for i in range(n)]
