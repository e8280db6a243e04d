"""The hidden-passage experiment configs: each validates, reads questions whose passage is
hidden context, runs debate, consultancy and direct QA under a quote budget, and no judge of
it sees the passage."""

from __future__ import annotations

from pathlib import Path

import pytest

from oversight.config import load_config
from oversight.data import load_questions

ROOT = Path(__file__).resolve().parents[3]


@pytest.mark.parametrize("name", ["boolq", "cosmosqa", "quality"])
def test_hidden_passage_config(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)  # data.path is relative to where oversight runs
    cfg = load_config(ROOT / "experiments" / f"hidden_{name}.toml")
    assert {p.kind for p in cfg.protocols.values()} == {"debate", "consultancy", "direct"}
    for proto in cfg.protocols.values():
        assert getattr(proto, "quote_budget", 40) == 40
    assert cfg.judges and not any(j.sees_context for j in cfg.judges)
    assert cfg.data.limit is not None and 4 <= cfg.data.limit <= 10
    questions = load_questions(
        cfg.data.source, path=cfg.data.path, split=cfg.data.split, limit=cfg.data.limit
    )
    assert len(questions) == cfg.data.limit
    for q in questions:
        assert q.context and len(q.context.split()) >= 20 and q.context not in q.text
        assert len(q.choices) == 2
