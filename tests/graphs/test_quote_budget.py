"""The per-speech quote budget through the debate graph, on the tiny offline model (allowed
the context a QuALITY story needs).

The tiny model's words are random, so its speeches are rewritten to quote the hidden passage
(three quotes of six words each); everything else, the judges included, runs for real."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any

import pytest

from oversight.backends import TransformersBackend
from oversight.backends.base import Backend, Completion, GenerateRequest
from oversight.config import ConfigError
from oversight.runner import Runner
from oversight.store import Debate, Store, Turn
from tests.graphs.conftest import Recording, tiny_config

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "quality" / "validation.jsonl"
GEN = {"max_new_tokens": 4, "temperature": 0.0}


def _passage(request: GenerateRequest) -> list[str]:
    content = request.messages[-1]["content"]
    found = re.search(r"Source material:\n(.*?)\n\nQuestion: ", content, re.DOTALL)
    assert found, "the debater is shown the passage"
    return found.group(1).split()


class Quoting(Recording):
    """Generates with the real model, then stores a speech with three quotes of the passage."""

    async def generate(self, requests: list[GenerateRequest]) -> list[Completion]:
        done = await super().generate(requests)
        out = []
        for request, completion in zip(requests, done, strict=True):
            words = _passage(request)
            assert len(words) > 400
            quotes = [" ".join(words[i : i + 6]) for i in (0, 10, 20)]
            text = "I argue: " + " and ".join(f"<quote>{q}</quote>" for q in quotes)
            out.append(Completion(text, completion.prompt_tokens, 10, completion.latency_s))
        return out


def test_a_speech_over_budget_stores_only_the_in_budget_quotes(
    long_context_model: Path, tmp_path: Path
) -> None:
    store = Store(f"sqlite:///{tmp_path / 'exp.db'}")
    proto: dict[str, Any] = {
        "kind": "debate",
        "model": "m",
        "rounds": 1,
        "swap": False,
        "quote_budget": 10,
        "generation": GEN,
    }
    cfg = tiny_config(
        long_context_model,
        store.url,
        data={"source": "quality", "path": str(FIXTURE), "split": "dev", "limit": 1},
        protocols={"d": proto},
    )
    made: list[Quoting] = []

    def factory(alias: str, model: Any) -> Backend:
        made.append(Quoting(TransformersBackend(model.model, name=alias, max_batch_size=8)))
        return made[-1]

    summary = asyncio.run(Runner(cfg, store, backend_factory=factory).run())
    assert (summary.completed, summary.failed) == (1, 0), [d.error for d in store.all(Debate)]
    turns = store.all(Turn)
    assert len(turns) == 2
    for turn in turns:
        # 6 words fit in 10; the second quote (6 more) does not, so it and the third are text.
        assert [q["verified"] for q in turn.quotes] == [True]
        assert turn.quotes[0]["match"] == 1.0
        assert turn.text.count("<quote>") == 1
        cut = turn.context["quote_budget"]
        assert cut["words"] == 10 and [c["words"] for c in cut["cut"]] == [6, 6]
        assert all(c["text"] in turn.text for c in cut["cut"])  # kept as plain words
    # The speakers were told the budget, and each judge saw one verified quote per speech.
    systems = [r.messages[0]["content"] for r in made[0].generated]
    assert len(systems) == 2
    assert all("Only the first 10 quoted words count as quotes." in p for p in systems)
    transcripts = [r.messages[-1]["content"] for r in made[0].scored]
    assert len(transcripts) == 2 * 2  # two judges, two presentation orders
    assert transcripts and all(c.count("<v_quote>") == 2 for c in transcripts)
    assert all("<u_quote>" not in c for c in transcripts)


def test_the_budget_leaves_the_identity_of_existing_experiments_alone(
    tiny_chat_model: Path,
) -> None:
    plain = {"kind": "debate", "model": "m", "generation": GEN}
    before = tiny_config(tiny_chat_model, "sqlite://", protocols={"d": plain})
    assert "quote_budget" not in before.protocols["d"].identity()
    budgeted = {**plain, "quote_budget": 25}
    after = tiny_config(tiny_chat_model, "sqlite://", protocols={"d": budgeted})
    assert after.protocols["d"].identity()["quote_budget"] == 25
    with pytest.raises(ConfigError, match=r"protocols\.d.*quote_budget"):
        tiny_config(tiny_chat_model, "sqlite://", protocols={"d": {**plain, "quote_budget": -1}})
