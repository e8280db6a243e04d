"""``oversight train-debaters`` end to end: a real tiny debate run, its pairs, one DPO step."""

from __future__ import annotations

import json
import math
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest
import torch
from datasets import load_from_disk
from typer.testing import CliRunner

from oversight.backends.base import Completion, GenerateRequest
from oversight.backends.transformers_backend import TransformersBackend
from oversight.cli import app
from oversight.store import Store

runner = CliRunner()


def _config(tmp_path: Path, model: Path, extra: str = "") -> Path:
    path = tmp_path / "exp.toml"
    path.write_text(
        f"""
name = "deb"
store = "sqlite:///{tmp_path / "deb.db"}"
[data]
source = "arc"
limit = 2
[models.m]
model = "{model}"
[protocols.debate]
kind = "debate"
model = "m"
rounds = 2
generation = {{ max_new_tokens = 8, temperature = 1.0 }}
[[judges]]
name = "plain"
model = "m"
{extra}
"""
    )
    return path


def expected_pairs(db: str) -> tuple[int, float]:
    """Pairs and mean margin computed straight from the Store: per (question, round, answer),
    the two speeches arguing it, if their debates gave it different probabilities."""
    store = Store(db, create=False)
    exp = store.require_experiment("deb")
    assert exp.id is not None
    debates = store.debates(exp.id, protocol="debate", status="complete")
    probs = {j.debate_id: j.probs for j in store.judgments([d.id for d in debates])}
    speeches: dict[tuple[str, int, int], list[tuple[float, str]]] = defaultdict(list)
    for d in debates:
        for t in store.turns(d.id):
            answer = d.assignment[t.speaker]
            speeches[(d.question_id, t.round, answer)].append((probs[d.id][answer], t.text))
    margins = []
    for group in speeches.values():
        assert len(group) == 2  # swap: each answer argued once per debate
        (r1, t1), (r2, t2) = group
        if r1 != r2 and t1.strip() != t2.strip():
            margins.append(abs(r1 - r2))
    return len(margins), sum(margins) / len(margins)


def test_train_debaters_builds_pairs_and_trains_an_adapter(
    tmp_path: Path, long_context_model: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Record every prompt the debaters were given, to check the rebuilt ones against them.
    said: dict[str, list[list[dict[str, str]]]] = defaultdict(list)
    original = TransformersBackend.generate

    async def recording(self: Any, requests: list[GenerateRequest]) -> list[Completion]:
        out = await original(self, requests)
        for req, c in zip(requests, out, strict=True):
            said[c.text.strip()].append(list(req.messages))
        return out

    monkeypatch.setattr(TransformersBackend, "generate", recording)
    cfg = _config(tmp_path, long_context_model)
    db = f"sqlite:///{tmp_path / 'deb.db'}"
    ran = runner.invoke(app, ["run", str(cfg)])
    assert ran.exit_code == 0, ran.output
    assert "4 completed, 0 failed" in ran.output

    out = tmp_path / "trained"
    result = runner.invoke(
        app,
        [
            "train-debaters",
            str(cfg),
            "--out",
            str(out),
            "--max-steps",
            "1",
            "--batch-size",
            "2",
            "--max-length",
            "2048",
            "--lora-r",
            "4",
        ],
    )
    assert result.exit_code == 0, result.output
    n_pairs, mean_margin = expected_pairs(db)
    assert n_pairs > 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["pairs"] == summary["pairs_trained"] == n_pairs
    assert summary["pairs_too_long"] == 0 and summary["longest_prompt_tokens"] < 2048
    assert summary["mean_margin"] == pytest.approx(mean_margin)
    assert summary["steps"] == 1 and torch.isfinite(torch.tensor(summary["train_loss"]))
    assert summary["loss_type"] == "robust"
    table = {
        cells[1].strip(): cells[2].strip()
        for line in result.output.splitlines()
        if len(cells := line.split("│")) == 4
    }
    assert table["pairs"] == table["pairs trained"] == str(n_pairs)
    assert table["mean reward margin"] == f"{mean_margin:.3f}"
    assert table["optimizer steps"] == "1"
    # One step from a zero-initialised adapter: policy = reference, so the (robust) DPO loss
    # is log 2 exactly; the flip rate is 1 - mean confidence (1 + margin) / 2, capped at 0.4.
    assert summary["train_loss"] == pytest.approx(math.log(2), abs=1e-5)
    assert table["train loss"] == "0.6931"
    smoothing = min(0.4, 1 - (1 + mean_margin) / 2)
    assert summary["label_smoothing"] == pytest.approx(smoothing)
    assert table["loss / label smoothing"] == f"robust / {smoothing:.3f}"

    pairs = load_from_disk(str(out / "pairs"))
    assert len(pairs) == n_pairs
    same = sum(pairs["same_prompt"])
    assert summary["same_prompt_pairs"] == same
    assert table["pairs with one prompt for both speeches"] == str(same)
    for row in pairs:
        # The rebuilt prompt is the one the chosen speech was generated from.
        assert row["prompt"] in said[row["chosen"][0]["content"]]
        assert row["confidence"] == pytest.approx((1 + row["margin"]) / 2)
        if row["round"] == 0:
            assert row["same_prompt"]  # simultaneous first round
    files = {p.name for p in (out / "adapter").iterdir()}
    assert "adapter_model.safetensors" in files and "training.json" in files
    assert not [f for f in files if f.endswith(".bin")]

    # The debater prompt is hundreds of tokens: a budget below it trains on nothing, said so.
    short = runner.invoke(
        app, ["train-debaters", str(cfg), "--out", str(tmp_path / "short"), "--max-length", "64"]
    )
    assert short.exit_code != 0
    assert "--max-length 64: every prompt is at least that long" in short.output


def test_train_debaters_errors_name_the_problem(tmp_path: Path, tiny_chat_model: Path) -> None:
    cfg = _config(tmp_path, tiny_chat_model)
    missing = runner.invoke(app, ["train-debaters", str(cfg), "--out", str(tmp_path / "o")])
    assert missing.exit_code != 0
    assert "no store at" in missing.output and "deb.db" in missing.output
    store = Store(f"sqlite:///{tmp_path / 'deb.db'}")
    store.open_experiment("other", {}, "h", "t")
    unknown = runner.invoke(app, ["train-debaters", str(cfg), "--out", str(tmp_path / "o")])
    assert unknown.exit_code != 0 and "no experiment named 'deb'" in unknown.output
    store.open_experiment("deb", {}, "h", "t")
    empty = runner.invoke(app, ["train-debaters", str(cfg), "--out", str(tmp_path / "o")])
    assert empty.exit_code != 0
    assert "no complete, judged debates of protocol 'debate'" in empty.output
    bad = runner.invoke(
        app, ["train-debaters", str(cfg), "--out", str(tmp_path / "o"), "--protocol", "nope"]
    )
    assert bad.exit_code != 0 and "--protocol: no protocol 'nope'" in bad.output
    epochs = runner.invoke(
        app, ["train-debaters", str(cfg), "--out", str(tmp_path / "o"), "--epochs", "0"]
    )
    assert epochs.exit_code != 0 and "--epochs: Input should be greater than 0" in epochs.output
    (tmp_path / "u").mkdir()
    unswapped = _config(
        tmp_path / "u",
        tiny_chat_model,
        '[protocols.once]\nkind = "debate"\nmodel = "m"\nswap = false\n',
    )
    one = runner.invoke(
        app, ["train-debaters", str(unswapped), "--out", str(tmp_path / "o"), "--protocol", "once"]
    )
    assert one.exit_code != 0 and "protocols.once: debater pairs need" in one.output
