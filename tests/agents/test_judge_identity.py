"""A judge's identity holds everything that changes its verdicts; its orders map to choices."""

from __future__ import annotations

import asyncio
import json
import math
from pathlib import Path

import pytest

from agents.debater import QUOTE_RULE, Advocate
from agents.judge import ORDERS, PromptedJudge, build_judges
from graphs.replay import Replayer
from oversight.backends.base import (
    ChoiceScores,
    Completion,
    GenerateRequest,
    SamplingParams,
    ScoreRequest,
)
from oversight.config import ConfigError, JudgeConfig, ModelConfig, load_config
from oversight.data.records import make_question
from oversight.protocol_registry import Role
from oversight.replay import parse_replay_config
from oversight.store import Debate, JudgeKind, Judgment, Store, Turn

QUESTION = make_question(
    dataset="t",
    split="test",
    text="Capital of France?",
    choices=["Paris", "Berlin"],
    correct_index=0,
)


def _ids(**model: object) -> str:
    cfg = ModelConfig.model_validate({"model": "smol", **model})
    return PromptedJudge.from_config(JudgeConfig(name="j", model="m"), cfg).judge_id


def test_everything_that_changes_a_verdict_changes_the_id() -> None:
    base = _ids()
    assert _ids(backend="vllm", lora="/adapters/a") != _ids(backend="vllm")
    assert _ids(backend="vllm", lora="/adapters/a") != _ids(backend="vllm", lora="/adapters/b")
    assert _ids(dtype="bfloat16") != base
    assert _ids(backend="openai", base_urls=["http://h/v1"], served_model="other") != base
    judge = PromptedJudge.from_config(JudgeConfig(name="j", model="m"), ModelConfig(model="smol"))
    from dataclasses import replace

    assert replace(judge, labels=("1", "2")).judge_id != base
    assert replace(judge, assistant_prefix="Verdict:").judge_id != base
    assert replace(judge, sees_context=True).judge_id != base
    skeptic = PromptedJudge.from_config(
        JudgeConfig(name="j", model="m", prompt="judge_skeptic"), ModelConfig(model="smol")
    )
    assert skeptic.judge_id != base


def test_how_a_model_is_served_does_not_change_the_id() -> None:
    base = _ids()
    assert _ids(max_batch_size=32, device="cpu") == base
    assert _ids(backend="vllm", max_model_len=4096, gpu_memory_utilization=0.5) == base
    # The name shown in reports is not part of what the judge computes.
    other_name = PromptedJudge.from_config(
        JudgeConfig(name="other", model="m"), ModelConfig(model="smol")
    )
    assert other_name.judge_id == base


def test_two_members_that_are_one_judge_are_a_config_error() -> None:
    models = {"a": ModelConfig(model="smol"), "b": ModelConfig(model="smol", max_batch_size=2)}
    judges = [JudgeConfig(name="first", model="a"), JudgeConfig(name="second", model="b")]
    with pytest.raises(
        ConfigError,
        match=r"judges\.1: judge 'second' is the same judge as "
        r"'first' \(judges\.0\)",
    ):
        build_judges(judges, models)
    models["b"] = ModelConfig(model="smol", backend="vllm", lora="/adapters/a")
    models["a"] = ModelConfig(model="smol", backend="vllm")
    assert len({j.judge_id for j in build_judges(judges, models)}) == 2


def test_a_missing_template_is_a_config_error_naming_the_member() -> None:
    with pytest.raises(ConfigError, match=r"judges\.0\.prompt: no prompt template 'nope'"):
        build_judges(
            [JudgeConfig(name="j", model="m", prompt="nope")], {"m": ModelConfig(model="smol")}
        )


def test_replay_with_an_adapter_alias_never_reuses_the_base_verdicts(
    tmp_path: Path, tiny_chat_model: Path
) -> None:
    """The base judge's stored verdict stays its own; the adapter judge is asked afresh."""
    store = Store(f"sqlite:///{tmp_path / 'db.sqlite'}")
    exp = store.open_experiment("e", {}, "h", "v")
    assert exp.id is not None
    store.add_questions([QUESTION])
    store.insert_ignore(
        [
            Debate(
                id="d0",
                experiment_id=exp.id,
                question_id=QUESTION.id,
                protocol="direct",
                key="k",
                status="complete",
            )
        ]
    )
    base = parse_replay_config(
        {"models": {"m": {"model": str(tiny_chat_model)}}, "judges": [{"name": "j", "model": "m"}]}
    )
    (base_judge,) = build_judges(base.judges, base.models)
    store.insert_ignore(
        [
            Judgment(
                debate_id="d0",
                judge_id=base_judge.judge_id,
                kind=JudgeKind.PROMPTED,
                model="m",
                probs=[0.9, 0.1],
            )
        ]
    )
    adapter = parse_replay_config(
        {
            "models": {
                "m": {
                    "model": str(tiny_chat_model),
                    "backend": "vllm",
                    "lora": str(tmp_path / "adapter"),
                }
            },
            "judges": [{"name": "j", "model": "m"}],
        }
    )
    scored: list[ScoreRequest] = []

    class Scripted:
        name = "m"

        async def generate(self, requests: list[GenerateRequest]) -> list[Completion]:
            raise AssertionError("a replay never generates")

        async def score_choices(self, requests: list[ScoreRequest]) -> list[ChoiceScores]:
            scored.extend(requests)
            return [
                ChoiceScores(r.labels, [math.log(0.3), math.log(0.7)], [0.3, 0.7]) for r in requests
            ]

        async def aclose(self) -> None:
            return None

    summary = asyncio.run(
        Replayer(adapter, store, backend_factory=lambda a, c: Scripted()).run("e", "lora")
    )
    assert (summary.judged, summary.added) == (1, 1)
    assert len(scored) == 2
    by_judge = {j.judge_id: j.probs for j in store.judgments(["d0"])}
    assert by_judge[base_judge.judge_id] == [0.9, 0.1]
    assert len(by_judge) == 2


class Biased:
    """Scores as a model with a position bias (``letter_bias`` on whichever answer is shown as
    A) and a content bias (``answer_bias`` towards the text ``favourite``)."""

    name = "biased"

    def __init__(self, letter_bias: float, favourite: str, answer_bias: float) -> None:
        self.letter_bias, self.favourite, self.answer_bias = letter_bias, favourite, answer_bias
        self.requests: list[ScoreRequest] = []

    async def generate(self, requests: list[GenerateRequest]) -> list[Completion]:
        raise AssertionError("judges never generate")

    async def score_choices(self, requests: list[ScoreRequest]) -> list[ChoiceScores]:
        out = []
        for r in requests:
            self.requests.append(r)
            user = r.messages[-1]["content"]
            shown_a = user.split("\nA: ", 1)[1].split("\n", 1)[0]
            logit_a = self.letter_bias + (
                self.answer_bias if shown_a == self.favourite else -self.answer_bias
            )
            p_a = 1 / (1 + math.exp(-logit_a))
            out.append(ChoiceScores(r.labels, [math.log(p_a), math.log(1 - p_a)], [p_a, 1 - p_a]))
        return out

    async def aclose(self) -> None:
        return None


def _judge() -> PromptedJudge:
    return PromptedJudge.from_config(JudgeConfig(name="j", model="m"), ModelConfig(model="s"))


def test_presentation_orders_map_back_to_choices_under_a_letter_bias() -> None:
    """A judge that only likes the letter A: 0.8 on choice 0 when shown first, 0.2 when second;
    the average cancels the bias exactly."""
    backend = Biased(math.log(4), favourite="-", answer_bias=0.0)
    verdict = asyncio.run(_judge().judge(backend, QUESTION, [], {}))
    assert verdict.probs_by_order["0,1"] == pytest.approx([0.8, 0.2])
    assert verdict.probs_by_order["1,0"] == pytest.approx([0.2, 0.8])
    assert verdict.probs == pytest.approx([0.5, 0.5])
    shown_first = [
        r.messages[-1]["content"].split("\nA: ", 1)[1].split("\n")[0] for r in backend.requests
    ]
    assert shown_first == [QUESTION.choices[o[0]] for o in ORDERS] == ["Paris", "Berlin"]


def test_presentation_orders_map_back_to_choices_under_an_answer_bias() -> None:
    """A judge that likes the text 'Berlin' (choice 1) in any position: 0.9 on choice 1 in both
    orders, whatever letter Berlin had."""
    backend = Biased(0.0, favourite="Berlin", answer_bias=math.log(9))
    verdict = asyncio.run(_judge().judge(backend, QUESTION, [], {}))
    assert verdict.probs_by_order["0,1"] == pytest.approx([0.1, 0.9])
    assert verdict.probs_by_order["1,0"] == pytest.approx([0.1, 0.9])
    assert verdict.probs == pytest.approx([0.1, 0.9])


def test_advocate_messages_state_its_side_the_opponents_and_the_quote_rule() -> None:
    adv = Advocate(Role.DEBATER, 50, SamplingParams())
    assignment = {"debater_1": 1, "debater_2": 0}
    system, user = adv.messages(QUESTION, "debater_1", assignment, [], 0)
    assert "You are Debater B" in system["content"]
    assert 'argue that the answer to a question is "Berlin"' in system["content"]
    assert 'another debater argues for "Paris"' in system["content"]
    assert "under 50 words" in system["content"]
    assert QUOTE_RULE.strip() not in system["content"]  # no hidden passage, nothing to quote
    assert 'You defend: "Berlin"' in user["content"]
    passage = make_question(
        dataset="t",
        split="test",
        text="Who?",
        choices=["x", "y"],
        correct_index=0,
        context="Once upon a time.",
    )
    system, user = adv.messages(passage, "debater_2", assignment, [], 0)
    assert "You are Debater A" in system["content"] and QUOTE_RULE.strip() in system["content"]
    assert "Once upon a time." in user["content"]
    earlier = Turn(debate_id="d", round=0, speaker="debater_2", model="m", text="Paris, clearly.")
    _, user = adv.messages(QUESTION, "debater_1", assignment, [earlier], 1)
    assert "Paris, clearly." in user["content"] and "round 2" in user["content"]


GOLDEN_QUICKSTART_HASH = "ce1759ba3526fe36"
"""The quickstart's config hash. Changing it makes every stored quickstart experiment refuse to
resume ("already exists with a different config"), so a change here must be deliberate."""


def test_golden_config_hash() -> None:
    cfg = load_config(Path(__file__).parents[2] / "experiments" / "quickstart.toml")
    assert cfg.config_hash() == GOLDEN_QUICKSTART_HASH
    identity = json.dumps(cfg.identity(), sort_keys=True)
    assert "store" not in cfg.identity() and "concurrency" not in cfg.identity()
    assert cfg.model_copy(update={"concurrency": 99}).config_hash() == GOLDEN_QUICKSTART_HASH
    assert len(identity) > 100
