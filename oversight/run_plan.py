"""What an experiment will do, before it does it: debates, speeches, judgments, tokens.

``oversight run CONFIG --dry-run`` and ``oversight pipeline CONFIG --dry-run`` print this plan;
it loads the questions but never a model, and writes nothing. Token counts are estimates by
:data:`TOKEN_RULE`, an upper bound for generated tokens (every generation is counted at its
``max_new_tokens``) and a rough figure for prompts.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from oversight.config import ExperimentConfig
from oversight.runner import plan_debates
from oversight.store import Experiment, Question
from oversight.store.store import GenerationHistory

TOKEN_RULE = (
    "tokens: ceil(chars / 4) per text; each speech generates its max_new_tokens (best_of N: N "
    "samples, each also read by the preference judge; a critic: a critique and a revision "
    "more) and reads the question, choices, passage and the speeches it can see; the judge's "
    "questions between rounds generate 2 x question_words; each prompted judge reads both "
    "presentation orders of question, choices (passage if sees_context) and transcript and "
    "generates nothing; each prompt adds its template's text (chat-template tokens not counted)"
)
"""The estimate's rule as the plan states it."""


def text_tokens(text: str) -> int:
    """Estimated tokens of a text: ``ceil(len(text) / 4)``."""
    return math.ceil(len(text) / 4)


def _material(q: Question, context: bool) -> int:
    text = q.text + "".join(q.choices) + ((q.context or "") if context else "")
    return text_tokens(text)


@dataclass
class ProtocolPlan:
    """One protocol's share of the debates and their estimated tokens."""

    debates: int
    speeches: int
    generations: int
    """Model generations: speeches, best-of-N samples, critiques, revisions, judge questions."""
    prompt_tokens: int
    completion_tokens: int


@dataclass
class RunPlan:
    """Debates and judgments of an experiment, with the token estimate (:data:`TOKEN_RULE`)."""

    experiment: str
    questions: int
    protocols: dict[str, ProtocolPlan]
    judgments: int
    """Prompted judges' verdicts: final, plus after every round where a protocol asks."""
    judge_prompt_tokens: int

    @property
    def debates(self) -> int:
        return sum(p.debates for p in self.protocols.values())

    @property
    def prompt_tokens(self) -> int:
        return sum(p.prompt_tokens for p in self.protocols.values()) + self.judge_prompt_tokens

    @property
    def completion_tokens(self) -> int:
        return sum(p.completion_tokens for p in self.protocols.values())

    def as_json(self) -> dict[str, Any]:
        out = asdict(self)
        out.update(
            debates=self.debates,
            prompt_tokens=self.prompt_tokens,
            completion_tokens=self.completion_tokens,
            token_rule=TOKEN_RULE,
        )
        return out


def plan_run(
    cfg: ExperimentConfig,
    questions: Sequence[Question],
    overhead: Mapping[str, int] | None = None,
) -> RunPlan:
    """The plan of ``cfg`` on ``questions`` (as loaded for the run).

    ``overhead`` adds the tokens of the prompt templates themselves, per speaker role
    (``debater``, ...) and per judge (``judge:NAME``); the caller measures them (the
    templates belong to ``agents``)."""
    extra = dict(overhead or {})
    by_id = {q.id: q for q in questions}
    unsaved = Experiment(id=0, name=cfg.name, config_hash=cfg.config_hash(), code_version="plan")
    planned = plan_debates(cfg, unsaved, list(questions))
    per_protocol = Counter(d.protocol for d in planned)
    protocols: dict[str, ProtocolPlan] = {}
    judgments = judge_tokens = 0
    for pname, proto in cfg.protocols.items():
        seats = len(proto.seats())
        rounds = proto.planned_rounds()
        generation = getattr(proto, "generation", None)
        new = int(generation.max_new_tokens) if generation is not None else 0
        sequential = getattr(proto, "turns", "simultaneous") == "sequential"
        best_of = int(getattr(proto, "best_of", 1))
        critic = getattr(proto, "critic", None) is not None
        critique = 2 * int(getattr(proto, "critique_words", 0)) if critic else 0
        asks = getattr(proto, "judge_questions", None) is not None
        question_new = 2 * int(getattr(proto, "question_words", 0)) if asks else 0
        every_round = bool(getattr(proto, "judge_every_round", False))
        speeches = generations = prompt = completion = 0
        for row in (d for d in planned if d.protocol == pname):
            q = by_id[row.question_id]
            for r in range(rounds):
                for s in range(seats):
                    seen = (r * seats + (s if sequential else 0)) * new
                    role = proto.seats()[s].role.value
                    reads = _material(q, True) + seen + extra.get(role, 0)
                    speeches += 1
                    generations += best_of + (2 if critic else 0)
                    prompt += best_of * reads + (best_of * (reads + new) if best_of > 1 else 0)
                    completion += best_of * new
                    if critic:
                        prompt += 2 * (reads + new) + critique
                        completion += critique + new
                if asks and r < rounds - 1:
                    generations += 1
                    prompt += _material(q, False) + (r + 1) * seats * new
                    completion += question_new
            transcript = rounds * seats * new
            for j in cfg.judges:
                verdicts = 1 + (rounds if every_round else 0)
                judgments += verdicts
                reads = _material(q, j.sees_context) + transcript + extra.get(f"judge:{j.name}", 0)
                judge_tokens += 2 * verdicts * reads
        protocols[pname] = ProtocolPlan(
            per_protocol[pname], speeches, generations, prompt, completion
        )
    return RunPlan(cfg.name, len(questions), protocols, judgments, judge_tokens)


TIME_RULE = (
    "time: each protocol's new-token bound at the rate its model (the protocol's `model`) "
    "generated in this store's history: generated tokens / time from its first to its last "
    "stored turn, per experiment, judges and Store writes included; at that history's "
    "machine, backend and concurrency; protocols whose model has no history are not estimated"
)
"""The time estimate's rule as the plan states it."""


@dataclass
class TimeEstimate:
    """Wall time of a plan's generations, from how fast its models generated before."""

    seconds: float
    tokens_per_s: dict[str, float]
    """The history's rate of each model the estimate used (by ``ModelConfig.model``)."""
    unestimated: list[str]
    """Protocols that generate but whose model has no stored history."""


def estimate_time(
    cfg: ExperimentConfig, plan: RunPlan, history: Mapping[str, GenerationHistory]
) -> TimeEstimate:
    """The plan's time by :data:`TIME_RULE`, from :meth:`Store.generation_history`."""
    seconds = 0.0
    rates: dict[str, float] = {}
    missing: list[str] = []
    for pname, proto in cfg.protocols.items():
        new = plan.protocols[pname].completion_tokens
        alias = proto.models_used().get("model")
        if new == 0 or alias is None:
            continue
        model = cfg.models[alias].model
        found = history.get(model)
        rate = found.tokens_per_s if found is not None else None
        if rate is None:
            missing.append(pname)
            continue
        rates[model] = rate
        seconds += new / rate
    return TimeEstimate(seconds, rates, missing)
