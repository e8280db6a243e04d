"""Replay: stored debates judged again by a new ensemble, with no debater ever called."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

import oversight.executor
from graphs.replay import Replayer
from oversight.backends import (
    BackendError,
    ChoiceScores,
    Completion,
    GenerateRequest,
    ScoreRequest,
    TransformersBackend,
)
from oversight.cli import app
from oversight.config import ConfigError, ModelConfig
from oversight.data import shared_data_dir
from oversight.replay import load_replay_config, parse_replay_config, record_ensemble
from oversight.report import experiment_summary
from oversight.store import Debate, JudgeEnsemble, Store, StoreError, Turn
from oversight.transcripts import import_files

SAMPLES = ["innocent-at-large-3", "the-starbusters-0", "the-last-monster-4", "dangerous-quarry-3"]
"""Short real debates (two consultancies, a debate with an offline judge) and an unfinished one."""


class JudgeOnlyBackend:
    """A real backend that fails the test if asked for text: replay must only score answers.

    ``fail_on`` forces a (non-transient) failure for prompts containing that text, to stand
    for a crash in the middle of a replay.
    """

    def __init__(self, inner: TransformersBackend, fail_on: str | None = None) -> None:
        self.inner = inner
        self.name = inner.name
        self.fail_on = fail_on
        self.generated: list[GenerateRequest] = []
        self.scored = 0

    async def generate(self, requests: list[GenerateRequest]) -> list[Completion]:
        self.generated += requests
        pytest.fail("replay asked a model to generate text (a debater call)")

    async def score_choices(self, requests: list[ScoreRequest]) -> list[ChoiceScores]:
        self.scored += len(requests)
        text = " ".join(m["content"] for r in requests for m in r.messages)
        if self.fail_on is not None and self.fail_on in text:
            raise BackendError("forced failure", transient=False)
        return await self.inner.score_choices(requests)

    async def aclose(self) -> None:
        await self.inner.aclose()


class Factory:
    def __init__(self, fail_on: str | None = None) -> None:
        self.fail_on = fail_on
        self.made: list[JudgeOnlyBackend] = []

    def __call__(self, alias: str, cfg: ModelConfig) -> JudgeOnlyBackend:
        backend = JudgeOnlyBackend(TransformersBackend(cfg.model, name=alias), self.fail_on)
        self.made.append(backend)
        return backend


def _judges(model: Path, prompts: tuple[str, ...] = ("judge", "judge_skeptic")) -> dict[str, Any]:
    return {
        "models": {"tiny": {"model": str(model)}},
        "judges": [{"name": p, "model": "tiny", "prompt": p} for p in prompts],
    }


@pytest.fixture
def store(tmp_path: Path) -> Store:
    store = Store(f"sqlite:///{tmp_path / 'db.sqlite'}")
    nyu = shared_data_dir() / "nyu-debates-sample"
    report = import_files(store, "nyu", [nyu / f"{name}.json" for name in SAMPLES])
    assert report.failed == []
    return store


def _snapshot(store: Store) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    return (
        [d.model_dump() for d in store.all(Debate, order_by=Debate.id)],
        [t.model_dump() for t in store.all(Turn, order_by=Turn.id)],
    )


def test_replay_judges_stored_debates_and_resumes(store: Store, long_context_model: Path) -> None:
    before = _snapshot(store)
    cfg = parse_replay_config(_judges(long_context_model))
    factory = Factory()
    summary = asyncio.run(Replayer(cfg, store, backend_factory=factory).run("nyu-debates", "tiny"))
    assert (summary.debates, summary.judged, summary.added, summary.failed) == (3, 3, 6, 0)
    assert _snapshot(store) == before  # debates and turns untouched
    assert sum(len(b.generated) for b in factory.made) == 0
    assert sum(b.scored for b in factory.made) == 3 * 2 * 2  # debates x judges x orders
    for debate in store.all(Debate):
        verdicts = {
            j.judge_id: j for j in store.judgments([debate.id]) if j.judge_id in summary.judge_ids
        }
        if debate.status != "complete":
            assert verdicts == {}  # an unfinished debate has no transcript to judge
            continue
        assert set(verdicts) == set(summary.judge_ids)
        for j in verdicts.values():
            assert j.after_round == -1 and sum(j.probs) == pytest.approx(1.0)
            assert set(j.probs_by_order) == {"0,1", "1,0"}
    (ensemble,) = store.all(JudgeEnsemble)
    assert ensemble.name == "tiny" and ensemble.judge_ids == summary.judge_ids

    again_factory = Factory()
    again = asyncio.run(
        Replayer(cfg, store, backend_factory=again_factory).run("nyu-debates", "tiny")
    )
    assert (again.judged, again.added) == (0, 0)
    assert sum(b.scored for b in again_factory.made) == 0
    assert _snapshot(store) == before

    rows = experiment_summary(store, "nyu-debates")["judges"]
    side_by_side = {(r["protocol"], r["judge"]): r["debates"] for r in rows}
    assert (
        side_by_side[("consultancy", "human (live)")]
        == side_by_side[("consultancy", "ensemble tiny")]
        == 2
    )
    assert (
        side_by_side[("debate", "human (live)")] == side_by_side[("debate", "ensemble tiny")] == 1
    )
    assert side_by_side[("debate", "human (offline)")] == 1


def test_a_failed_replay_resumes_and_judges_are_shared(
    store: Store, long_context_model: Path
) -> None:
    starbusters = next(d for d in store.all(Debate) if "|the-starbusters|" in d.key)
    crash_on = store.question(starbusters.question_id).text
    cfg = parse_replay_config(_judges(long_context_model))
    first = asyncio.run(
        Replayer(cfg, store, backend_factory=Factory(fail_on=crash_on)).run("nyu-debates", "tiny")
    )
    assert first.failed == 1 and list(first.errors) == [starbusters.id]
    assert "forced failure" in first.errors[starbusters.id]
    assert first.added == 4

    resumed = asyncio.run(
        Replayer(cfg, store, backend_factory=Factory()).run("nyu-debates", "tiny")
    )
    assert (resumed.judged, resumed.added, resumed.failed) == (1, 2, 0)

    # A second ensemble that shares a judge reuses that judge's verdicts.
    one = parse_replay_config(_judges(long_context_model, ("judge",)))
    factory = Factory()
    shared = asyncio.run(Replayer(one, store, backend_factory=factory).run("nyu-debates", "one"))
    assert (shared.judged, shared.added) == (0, 0) and factory.made == []
    labels = {r["judge"] for r in experiment_summary(store, "nyu-debates")["judges"]}
    assert {"ensemble tiny", "ensemble one", "human (live)"} <= labels

    with pytest.raises(StoreError, match="recorded with other judges"):
        record_ensemble(store, "nyu-debates", "one", [{"judge_id": "other@0000"}])


def test_judges_file_errors_name_the_file_and_field(tmp_path: Path) -> None:
    path = tmp_path / "judges.toml"
    path.write_text('[models.m]\nmodel = "x"\n\n[[judges]]\nname = "a"\nmodel = "nope"\n')
    with pytest.raises(ConfigError, match=r"judges.toml: judges.0.model: unknown model alias"):
        load_replay_config(path)
    path.write_text(
        '[models.m]\nmodel = "x"\n\n[[judges]]\nname = "a"\nmodel = "m"\ntemperature = 1\n'
    )
    with pytest.raises(ConfigError, match=r"judges.toml: judges.0.temperature: Extra inputs"):
        load_replay_config(path)
    path.write_text('[models.m]\nmodel = "x"\n')
    with pytest.raises(ConfigError, match=r"judges.toml: judges: Field required"):
        load_replay_config(path)
    with pytest.raises(ConfigError, match="file not found"):
        load_replay_config(tmp_path / "missing.toml")


def test_cli_replay_then_report_side_by_side(
    store: Store, long_context_model: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    factory = Factory()
    monkeypatch.setattr(oversight.executor, "make_backend", factory)
    judges = tmp_path / "smalljudges.toml"
    judges.write_text(
        f'[models.tiny]\nmodel = "{long_context_model}"\n\n'
        '[[judges]]\nname = "plain"\nmodel = "tiny"\nprompt = "judge"\n'
    )
    turns = store.count(Turn)
    runner = CliRunner()
    res = runner.invoke(
        app,
        ["replay", "nyu-debates", "--judges", str(judges), "--db", store.url, "--concurrency", "2"],
    )
    assert res.exit_code == 0, res.output
    assert "replayed as smalljudges: 3 complete debates, 3 judged, 3 judgments added" in " ".join(
        res.output.split()
    )
    assert store.count(Turn) == turns
    assert factory.made and all(b.generated == [] for b in factory.made)

    res = runner.invoke(app, ["report", "nyu-debates", "--db", store.url, "--json"])
    assert res.exit_code == 0, res.output
    summary = json.loads(res.output)
    by_protocol: dict[str, set[str]] = {}
    for row in summary["judges"]:
        by_protocol.setdefault(row["protocol"], set()).add(row["judge"])
    assert {"human (live)", "ensemble smalljudges"} <= by_protocol["consultancy"]
    assert {"human (live)", "ensemble smalljudges"} <= by_protocol["debate"]
    assert summary["wins_judged_by"] == "human (live)"

    res = runner.invoke(
        app, ["replay", "nyu-debates", "--judges", str(tmp_path / "no.toml"), "--db", store.url]
    )
    assert res.exit_code == 2 and "file not found" in res.output


def test_the_example_judges_file_loads() -> None:
    root = Path(__file__).resolve().parents[2]
    cfg = load_replay_config(root / "experiments" / "judges" / "smollm2.toml")
    assert [j.name for j in cfg.judges] == ["judge", "skeptic"]
    assert cfg.models["smol"].model == "smollm2-135m-instruct"
