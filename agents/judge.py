"""The prompted judge: a probability per answer from next-token log-probs, never parsed text.

Each judgment scores the transcript under every presentation order of the two answers (A/B
and B/A) and averages the per-choice probabilities, which cancels the judge's position bias;
both orders are kept so the bias itself can be measured.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from agents import transcript
from agents.context import fit_to_context
from agents.templates import PromptTemplate, TemplateError, load_template
from oversight.backends.base import Backend, BackendError, ChoiceScores, Message, ScoreRequest
from oversight.config import ConfigError, ContextPolicy, JudgeConfig, ModelConfig
from oversight.judging import Judge, JudgeVerdict
from oversight.store.kinds import JudgeKind
from oversight.store.tables import Question, Turn

__all__ = ["Judge", "JudgeVerdict", "PromptedJudge", "build_judges", "ensemble_members"]

ORDERS: tuple[tuple[int, int], ...] = ((0, 1), (1, 0))
ASSISTANT_PREFIX = "Answer:"
"""No trailing space: tokenizers attach the space to the letter (" A"), as in "Answer: A"."""
LABELS: tuple[str, ...] = ("A", "B")
"""The answer labels scored, in presentation order."""
RENDERING = 2
"""Version of how a judge's prompt is put together from the template and the transcript
(agents/transcript.py, quote marking). Part of every prompted judge's identity: a change of
rendering is a different judge, so stored verdicts of the old rendering are never reused."""


def order_key(order: Sequence[int]) -> str:
    return ",".join(str(i) for i in order)


@dataclass(frozen=True)
class PromptedJudge:
    """A language-model judge defined by a model, a template and whether it sees the context;
    a :class:`~oversight.judging.Judge` of kind ``prompted``."""

    name: str
    model: str
    """The model reference (registry alias, path or hub id) as configured."""
    template: PromptTemplate
    sees_context: bool = False
    model_identity: Mapping[str, Any] = field(default_factory=dict)
    """What else about the model changes its output (adapter, dtype, served name, tokenizer):
    :meth:`oversight.config.ModelConfig.output_identity`."""
    labels: tuple[str, ...] = LABELS
    assistant_prefix: str = ASSISTANT_PREFIX
    kind: JudgeKind = JudgeKind.PROMPTED
    context_policy: ContextPolicy = "fail"
    """What to do when a transcript does not fit the model's context (:mod:`agents.context`)."""

    @classmethod
    def from_template_name(
        cls, name: str, model: str, prompt: str, sees_context: bool = False
    ) -> PromptedJudge:
        return cls(name, model, load_template(prompt), sees_context)

    @classmethod
    def from_config(cls, judge: JudgeConfig, model: ModelConfig) -> PromptedJudge:
        return cls(
            judge.name,
            model.model,
            load_template(judge.prompt),
            judge.sees_context,
            model_identity=model.output_identity(),
            context_policy=model.context_policy,
        )

    def identity(self) -> dict[str, Any]:
        """Everything that changes this judge's verdicts; its id is a digest of it.

        ``context_policy`` is in it only when it is ``drop_oldest``: under ``fail`` every
        verdict is one of the whole transcript, exactly what judges gave before the policy
        existed, so their ids (and stored verdicts) stand."""
        identity: dict[str, Any] = {
            "kind": self.kind.value,
            "model": self.model,
            "model_identity": dict(self.model_identity),
            "template": {"system": self.template.system, "user": self.template.user},
            "sees_context": self.sees_context,
            "labels": list(self.labels),
            "assistant_prefix": self.assistant_prefix,
            "orders": [list(o) for o in ORDERS],
            "rendering": RENDERING,
        }
        if self.context_policy != "fail":
            identity["context_policy"] = self.context_policy
        return identity

    @property
    def judge_id(self) -> str:
        """The model reference and a digest of :meth:`identity`: the same judge in any
        experiment or replay shares its stored verdicts, and a judge differing in anything
        that changes a verdict (an adapter, a label, a prompt) never does."""
        blob = json.dumps(self.identity(), sort_keys=True, ensure_ascii=True)
        ctx = "+ctx" if self.sees_context else ""
        return f"{self.model}@{hashlib.sha256(blob.encode()).hexdigest()[:12]}{ctx}"

    def messages(
        self,
        question: Question,
        turns: Sequence[Turn],
        assignment: dict[str, int],
        order: Sequence[int],
        omitted: Sequence[int] = (),
    ) -> list[Message]:
        fields = self.template.system + self.template.user  # render only what it shows
        text = seat_text = ""
        if "{transcript_section}" in fields:
            text = transcript.for_judge(turns, assignment, order, question.context, omitted)
        if "{seat_transcript_section}" in fields:
            seat_text = transcript.for_judge_by_seat(
                turns, assignment, question.choices, question.context, omitted
            )
        context = question.context if self.sees_context else None
        return self.template.render(
            context_section=f"Source material:\n{transcript.plain(context)}\n\n" if context else "",
            question=transcript.plain(question.text),
            answer_a=transcript.plain(question.choices[order[0]]),
            answer_b=transcript.plain(question.choices[order[1]]),
            transcript_section=f"Transcript:\n{text}\n\n" if text else "",
            seat_transcript_section=f"Transcript:\n{seat_text}\n\n" if seat_text else "",
        )

    @property
    def orders_share_prefix(self) -> bool:
        """Whether the template shows the transcript by seat before the answers: then its two
        presentation orders differ only from the answer list on (see
        :func:`agents.transcript.for_judge_by_seat`)."""
        user = self.template.user
        return 0 <= user.find("{seat_transcript_section}") < user.find("{answer_a}")

    async def judge(
        self,
        backend: Backend,
        question: Question,
        turns: Sequence[Turn],
        assignment: dict[str, int],
    ) -> JudgeVerdict:
        if len(question.choices) != 2:
            raise ValueError(
                f"judges need binarized questions; {question.id} has "
                f"{len(question.choices)} choices"
            )

        async def attempt(visible: Sequence[Turn], omitted: Sequence[int]) -> list[ChoiceScores]:
            # Both orders see the same rounds, so their average is of one transcript.
            requests = [
                ScoreRequest(
                    self.messages(question, visible, assignment, order, omitted),
                    labels=list(self.labels),
                    assistant_prefix=self.assistant_prefix,
                )
                for order in ORDERS
            ]
            if self.orders_share_prefix and getattr(backend, "caches_prefixes", False):
                # Sent together, both orders are prefilled in the same engine step and neither
                # finds the shared transcript cached; the second, sent after the first, does.
                done = [await backend.score_choices([r]) for r in requests]
            else:
                done = await asyncio.gather(*(backend.score_choices([r]) for r in requests))
            return [score for (score,) in done]

        scores, fit = await fit_to_context(
            self.context_policy, turns, attempt, f"judge {self.name}"
        )
        by_order: dict[str, list[float]] = {}
        raw: dict[str, Any] = {"judge": self.name, "template": self.template.name}
        for order, score in zip(ORDERS, scores, strict=True):
            raw[order_key(order)] = {"labels": score.labels, "logprobs": score.logprobs}
            if score.probs is None:
                raise BackendError(
                    f"judge {self.name}: labels {score.missing} missing from the backend's "
                    "log-probs; no probability recorded"
                )
            per_choice = [0.0, 0.0]
            for pos, choice in enumerate(order):
                per_choice[choice] = score.probs[pos]
            by_order[order_key(order)] = per_choice
        probs = [sum(p[c] for p in by_order.values()) / len(by_order) for c in range(2)]
        return JudgeVerdict(
            probs=probs,
            probs_by_order=by_order,
            raw=raw,
            context=fit.record() if fit else {},
        )


def build_judges(
    judges: Sequence[JudgeConfig], models: Mapping[str, ModelConfig], source: str = "judges"
) -> list[PromptedJudge]:
    """The configured ensemble; a missing template or two members that are one judge (the same
    identity under two names) is a ConfigError naming the members, before any model runs."""
    out: list[PromptedJudge] = []
    seen: dict[str, int] = {}
    for i, cfg in enumerate(judges):
        try:
            judge = PromptedJudge.from_config(cfg, models[cfg.model])
        except TemplateError as err:
            raise ConfigError(f"{source}.{i}.prompt: {err}") from None
        if judge.judge_id in seen:
            first = judges[seen[judge.judge_id]].name
            raise ConfigError(
                f"{source}.{i}: judge {cfg.name!r} is the same judge as {first!r} "
                f"({source}.{seen[judge.judge_id]}): same model, adapter, prompt and labels, so "
                "the same verdicts; remove one or change what it judges with"
            )
        seen[judge.judge_id] = i
        out.append(judge)
    return out


def ensemble_members(
    judges: Sequence[JudgeConfig], models: Mapping[str, ModelConfig], built: Sequence[PromptedJudge]
) -> list[dict[str, Any]]:
    """The ensemble as recorded in a JudgeEnsemble row: each judge as configured, its id."""
    return [
        {
            **cfg.model_dump(mode="json"),
            "model_ref": models[cfg.model].model,
            "judge_id": judge.judge_id,
        }
        for cfg, judge in zip(judges, built, strict=True)
    ]
