"""The real SmolLM2-135M-Instruct through a protocol graph (offline wheel, CPU)."""

from __future__ import annotations

import asyncio
import re

import pytest

from oversight.config import parse_config
from oversight.runner import Runner
from oversight.store import Debate, Judgment, Store, Turn

pytestmark = pytest.mark.real_model


def test_smollm2_debate_and_direct_qa(tmp_path, oversight_cache) -> None:
    store = Store(f"sqlite:///{tmp_path / 'real.db'}")
    cfg = parse_config(
        {
            "name": "real",
            "data": {"source": "arc", "split": "test", "limit": 1},
            "models": {"smol": {"model": "smollm2-135m-instruct"}},
            "protocols": {
                "debate": {
                    "kind": "debate",
                    "model": "smol",
                    "rounds": 1,
                    "swap": False,
                    "generation": {"max_new_tokens": 40},
                },
                "direct": {"kind": "direct"},
            },
            "judges": [{"name": "judge", "model": "smol", "prompt": "judge"}],
        }
    )
    summary = asyncio.run(Runner(cfg, store).run())
    assert (summary.completed, summary.failed) == (2, 0)
    turns = store.all(Turn)
    assert len(turns) == 2
    for t in turns:
        # Real generated English: several words of letters, not token soup.
        assert len(re.findall(r"[A-Za-z]{3,}", t.text)) >= 5, t.text
        assert t.model == "smollm2-135m-instruct"
    assert store.count(Debate, Debate.status == "complete") == 2
    for j in store.all(Judgment):
        assert abs(sum(j.probs) - 1) < 1e-6
        for order in ("0,1", "1,0"):
            assert abs(sum(j.probs_by_order[order]) - 1) < 1e-6
            # "A" and "B" are likely next tokens after "Answer:", not a far-off tail.
            assert all(lp is not None and lp > -5 for lp in j.raw[order]["logprobs"])
