"""Replay of real human debates (Michael et al. 2023) with a real SmolLM2 judge ensemble."""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from graphs.replay import Replayer
from oversight.cli import app
from oversight.data import shared_data_dir
from oversight.replay import parse_replay_config
from oversight.store import Debate, JudgeKind, Question, Store, Turn
from oversight.transcripts import import_files
from tests.oversight.test_replay import Factory

pytestmark = pytest.mark.real_model

DEBATES = [
    "innocent-at-large-3",
    "the-last-monster-4",
    "out-of-the-iron-womb-1",
    "the-starbusters-0",
]
"""The shortest complete samples: two consultancies and two debates."""


def test_smollm2_ensemble_next_to_human_judges(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'db.sqlite'}")
    nyu = shared_data_dir() / "nyu-debates-sample"
    assert import_files(store, "nyu", [nyu / f"{d}.json" for d in DEBATES]).failed == []
    turns = store.count(Turn)
    cfg = parse_replay_config(
        {
            "models": {"smol": {"model": "smollm2-135m-instruct", "max_batch_size": 4}},
            "judges": [
                {"name": "judge", "model": "smol", "prompt": "judge"},
                {"name": "skeptic", "model": "smol", "prompt": "judge_skeptic"},
            ],
        }
    )
    factory = Factory()
    summary = asyncio.run(Replayer(cfg, store, backend_factory=factory).run("nyu-debates", "smol"))
    assert (summary.debates, summary.added, summary.failed) == (4, 8, 0), summary.errors
    assert store.count(Turn) == turns
    assert all(b.generated == [] for b in factory.made)

    # Whole transcripts fit the model's context: nothing was cut to make them fit.
    from transformers import AutoConfig

    (backend,) = factory.made
    assert backend.inner.resolved_path is not None
    limit = AutoConfig.from_pretrained(backend.inner.resolved_path).max_position_embeddings
    assert backend.inner.stats.prompt_tokens / backend.inner.stats.requests < limit
    verdicts = [
        j
        for d in store.all(Debate)
        for j in store.judgments([d.id])
        if j.judge_id in summary.judge_ids
    ]
    assert len(verdicts) == 8
    for j in verdicts:
        assert sum(j.probs) == pytest.approx(1.0) and 0.0 < j.probs[0] < 1.0
        assert set(j.probs_by_order) == {"0,1", "1,0"}

    res = CliRunner().invoke(app, ["report", "nyu-debates", "--db", store.url, "--json"])
    assert res.exit_code == 0, res.output
    rows = {(r["protocol"], r["judge"]): r for r in json.loads(res.output)["judges"]}
    questions = {q.id: q for q in store.all(Question)}
    for protocol in ("consultancy", "debate"):
        human, model = rows[(protocol, "human (live)")], rows[(protocol, "ensemble smol")]
        assert human["debates"] == model["debates"] == 2
        # recomputed from the stored verdicts: the ensemble's mean probability per debate,
        # and each human verdict on its own, correct when above 0.5 on the key
        ensemble, people = [], []
        for d in store.all(Debate):
            if d.protocol != protocol:
                continue
            key = questions[d.question_id].correct_index
            finals = [j for j in store.judgments([d.id]) if j.after_round == -1]
            ours = [j.probs for j in finals if j.judge_id in summary.judge_ids]
            ensemble.append(float(np.mean(ours, axis=0)[key] > 0.5))
            people += [float(j.probs[key] > 0.5) for j in finals if j.kind == JudgeKind.HUMAN_LIVE]
        assert model["accuracy"] == pytest.approx(np.mean(ensemble))
        assert human["accuracy"] == pytest.approx(np.mean(people))
    table = CliRunner().invoke(app, ["report", "nyu-debates", "--db", store.url])
    assert table.exit_code == 0
    # rich may wrap "ensemble smol" inside its cell; cells sit between box-drawing bars
    cells = re.sub(r"[│┃]", " ", table.output).split()
    assert "human" in cells and "ensemble" in cells and "smol" in cells
