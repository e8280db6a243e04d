"""What protocols in which speakers talk in rounds share: config fields, speech nodes, the
round loop, per-round verdicts and early stopping.

A protocol graph runs the speeches of one Debate row round by round, then the judge-ensemble
subgraph, then marks the debate complete. Every speech node first looks its turn up in the
Store by (debate, round, speaker) and only generates what is missing, so re-running a graph
after a crash finishes the work without redoing or duplicating any of it.
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import operator
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Annotated, Any, ClassVar, Literal, TypedDict

from langgraph.graph import END, START, StateGraph
from langgraph.runtime import Runtime
from pydantic import Field, model_validator

from agents.critic import Critic
from agents.debater import Advocate, Speech
from agents.judge import PromptedJudge
from agents.preference import SpeechPreference, best
from agents.questioner import Questioner
from agents.templates import load_template
from graphs.context import RETRY, GraphContext
from graphs.judges import Bindings, build_judge_ensemble
from oversight.backends.base import Backend, SamplingParams
from oversight.config import GenerationConfig
from oversight.protocol_registry import JUDGE_SEAT, ProtocolConfig, Role, Seat
from oversight.store.judges import FINAL_VERDICT
from oversight.store.tables import Candidate, Debate, Question, Turn

Turns = Literal["simultaneous", "sequential"]


class DebateState(TypedDict):
    debate_id: str
    round: int
    judgment_ids: Annotated[list[int], operator.add]
    after_round: int
    """Which verdicts the judge subgraph gives next: after that round, or -1 (final)."""
    stopped: bool
    """The judges were confident enough to end the debate before its last round."""


def initial_state(debate_id: str) -> DebateState:
    return DebateState(
        debate_id=debate_id, round=0, judgment_ids=[], after_round=FINAL_VERDICT, stopped=False
    )


class SpeechProtocolConfig(ProtocolConfig):
    """Fields of every protocol whose speakers argue in rounds."""

    fields_added: ClassVar[dict[str, Any]] = {
        "judge_every_round": False,
        "stop_confidence": None,
        "min_rounds": 1,
        "judge_questions": None,
        "question_words": 30,
        "quote_budget": None,
        "best_of": 1,
        "preference_judge": None,
        "critic": None,
        "critique_words": 40,
    }

    model: str
    """Alias of the speakers' model."""
    rounds: int = Field(default=2, ge=1)
    """Number of rounds; each speaker speaks once per round."""
    word_limit: int = Field(default=80, ge=1)
    """Word limit stated in the speaker prompt."""
    generation: GenerationConfig = Field(default_factory=GenerationConfig)
    """Sampling settings of each speech."""
    judge_every_round: bool = False
    """Every judge also gives a verdict after each round (stored with ``after_round``, as the
    imported human debates are), which the report draws as belief curves."""
    stop_confidence: float | None = Field(default=None, gt=0.5, le=1.0)
    """End a debate after a round once the ensemble's mean probability of one answer reaches
    this (needs ``judge_every_round``); the final verdict is then the one on the rounds
    spoken. None: every debate runs all its rounds."""
    min_rounds: int = Field(default=1, ge=1)
    """Rounds always spoken before ``stop_confidence`` may end a debate."""
    judge_questions: str | None = None
    """Alias of a model that, as the judge, asks the speakers one question after every round
    but the last (:mod:`agents.questioner`); each speaker answers it in its next speech.
    None: no questions. Greedy decoding; the hidden context is never shown to it."""
    question_words: int = Field(default=30, ge=1)
    """Word limit stated to the asking judge; it generates at most twice as many tokens."""
    best_of: int = Field(default=1, ge=1, le=32)
    """Each speech is the most persuasive of this many samples (:mod:`agents.preference`);
    every candidate and its score is stored (``Candidate``). Needs ``temperature > 0``."""
    preference_judge: str | None = None
    """Name of the experiment's judge whose log-probs rate the candidates; None: the first
    judge."""
    critic: str | None = None
    """Alias of a model that critiques each speech before it is given; the speaker then
    revises it once (:mod:`agents.critic`). None: no critique."""
    critique_words: int = Field(default=40, ge=1)
    """Word limit stated to the critic; it generates at most twice as many tokens."""
    quote_budget: int | None = Field(default=None, ge=0)
    """Words of quoted text (verified or not) allowed per speech; quotes past it are stored as
    plain text (:func:`oversight.quotes.apply_quote_budget`). None: no limit."""

    @model_validator(mode="after")
    def _stopping(self) -> SpeechProtocolConfig:
        if self.stop_confidence is not None and not self.judge_every_round:
            raise ValueError(
                "stop_confidence: stopping early decides on the verdicts after each round; "
                "set judge_every_round = true"
            )
        if self.best_of > 1 and self.generation.temperature <= 0:
            raise ValueError(
                "best_of: greedy decoding gives the same speech every time; set "
                "generation.temperature > 0"
            )
        if self.min_rounds > self.rounds:
            raise ValueError(f"min_rounds: {self.min_rounds} is more than rounds ({self.rounds})")
        return self

    def planned_rounds(self) -> int:
        return self.rounds

    def models_used(self) -> dict[str, str]:
        used = {"model": self.model}
        if self.judge_questions is not None:
            used["judge_questions"] = self.judge_questions
        if self.critic is not None:
            used["critic"] = self.critic
        return used


AdvocateOf = Callable[[GraphContext], tuple[Advocate, Backend, str]]
"""A protocol's advocate, its backend and its model reference, from the runtime context."""


def advocate_of(
    name: str,
    config: SpeechProtocolConfig,
    role: Role,
    *,
    model_alias: str | None = None,
    prompt: str | None = None,
) -> AdvocateOf:
    """The advocate of protocol ``name``: made once per run from the config and the models;
    ``model_alias`` and ``prompt`` (a template name or path) replace the config's model and
    the role's template for one seat (a tournament's variant)."""
    alias = model_alias or config.model

    def make(ctx: GraphContext) -> tuple[Advocate, Backend, str]:
        def build() -> tuple[Advocate, Backend, str]:
            gen = config.generation
            params = SamplingParams(
                max_new_tokens=gen.max_new_tokens,
                temperature=gen.temperature,
                top_p=gen.top_p,
                seed=ctx.seed,
            )
            model = ctx.models[alias]
            advocate = Advocate(
                role,
                config.word_limit,
                params,
                context_policy=model.context_policy,
                quote_budget=config.quote_budget,
            )
            if prompt is not None:
                advocate = replace(advocate, template=load_template(prompt))
            return advocate, ctx.speaker_backend(alias), model.model

        key = f"advocate:{name}:{alias}:{prompt}"
        found: tuple[Advocate, Backend, str] = ctx.once(key, build)
        return found

    return make


def speak_node(seat: Seat, sees_same_round: bool, speaker_of: SeatSpeaker) -> Any:
    """A node in which ``seat`` gives its speech for the current round, once: one sample, or
    the most persuasive of several (best-of-N), then refined once after a critique if so
    configured; every candidate, draft and critique is stored beside the turn."""
    speaker = seat.slot

    async def speak(state: DebateState, runtime: Runtime[GraphContext]) -> dict[str, Any]:
        ctx = runtime.context
        debate_id, round_ = state["debate_id"], state["round"]
        # One read of the transcript answers both "is my turn stored?" and "what do I see?".
        stored = ctx.store.turns(debate_id)
        if any(t.round == round_ and t.speaker == speaker for t in stored):
            return {}
        debate, question = ctx.facts(debate_id)
        visible = [t for t in stored if t.round < round_ or (sees_same_round and t.round == round_)]
        adv, backend, model = speaker_of.advocate(ctx)
        best_of, refine = speaker_of.best_of, speaker_of.refine
        task = SpeechTask(ctx, adv, backend, debate, question, speaker, visible, round_, model)
        if best_of is None:
            speech = await adv.speak(backend, question, speaker, debate.assignment, visible, round_)
        else:
            speech = await best_of.choose(task)
        if refine is not None:
            speech = await refine.apply(task, speech)
        # Insert-or-ignore without add_turn's read-back: nothing here needs the stored row.
        ctx.store.insert_ignore([speech.turn(debate_id, round_, speaker, model)])
        return {}

    return speak


@dataclass(frozen=True)
class SpeechTask:
    """One speech to give: the run's context, the seat's advocate and backend, the debate and
    question, who speaks, what it sees, in which round, under which model reference."""

    ctx: GraphContext
    adv: Advocate
    backend: Backend
    debate: Debate
    question: Question
    speaker: str
    visible: Sequence[Turn]
    round_: int
    model: str


@dataclass(frozen=True)
class BestOf:
    """Best-of-N speeches: ``n`` samples, rated by the preference judge, the best one said.

    Sample ``k`` is drawn with a seed derived from the run's seed, the debate, round, speaker
    and ``k``, so a rerun draws the same candidates. Candidates are stored before the turn; the
    turn counts the tokens of all ``n`` (what the speech cost)."""

    n: int
    judge_name: str | None

    def preference(self, ctx: GraphContext) -> tuple[SpeechPreference, Backend]:
        def make() -> tuple[SpeechPreference, Backend]:
            for b in ctx.judges:
                if self.judge_name in (None, b.judge.name) and isinstance(b.judge, PromptedJudge):
                    return SpeechPreference(b.judge), b.backend
            names = [b.judge.name for b in ctx.judges]
            raise ValueError(
                f"preference_judge: no prompted judge named {self.judge_name!r} (judges: {names})"
            )

        found: tuple[SpeechPreference, Backend] = ctx.once(f"preference:{self.judge_name}", make)
        return found

    async def choose(self, task: SpeechTask) -> Speech:
        """Sample, score and store the candidates; the speech to say."""
        ctx, adv, backend, debate, question = (
            task.ctx,
            task.adv,
            task.backend,
            task.debate,
            task.question,
        )
        speaker, visible, round_, model = task.speaker, task.visible, task.round_, task.model
        samplers = [
            replace(
                adv,
                params=replace(
                    adv.params, seed=candidate_seed(ctx.seed, debate.id, round_, speaker, k)
                ),
            )
            for k in range(self.n)
        ]
        speeches = await asyncio.gather(
            *(
                a.speak(backend, question, speaker, debate.assignment, visible, round_)
                for a in samplers
            )
        )
        preference, judge_backend = self.preference(ctx)
        scores = await preference.scores(
            judge_backend,
            question,
            speaker,
            debate.assignment,
            visible,
            round_,
            [s.text for s in speeches],
        )
        chosen = best(scores)
        ctx.store.insert_ignore(
            [
                Candidate(
                    debate_id=debate.id,
                    round=round_,
                    speaker=speaker,
                    index=k,
                    model=model,
                    text=s.text,
                    score=scores[k],
                    scorer=preference.judge.judge_id,
                    chosen=k == chosen,
                    prompt_tokens=s.prompt_tokens,
                    completion_tokens=s.completion_tokens,
                )
                for k, s in enumerate(speeches)
            ]
        )
        return replace(
            speeches[chosen],
            prompt_tokens=sum(s.prompt_tokens for s in speeches),
            completion_tokens=sum(s.completion_tokens for s in speeches),
            latency_s=max(s.latency_s for s in speeches),
        )


def best_of_config(config: SpeechProtocolConfig) -> BestOf | None:
    """The protocol's best-of-N setting, or None for one sample per speech."""
    return BestOf(config.best_of, config.preference_judge) if config.best_of > 1 else None


def refine_config(config: SpeechProtocolConfig) -> Refine | None:
    """The protocol's critique-and-refine setting, or None."""
    return Refine(config.critic, config.critique_words) if config.critic else None


@dataclass(frozen=True)
class Refine:
    """Critique-and-refine: the model ``critic`` comments on the draft in at most ``words``
    words (greedy), and the speaker revises it once (:mod:`agents.critic`). The draft and the
    critique are stored as ``Candidate`` rows; the turn counts the speaker's tokens of both
    the draft and the revision."""

    critic: str
    words: int

    async def apply(self, task: SpeechTask, draft: Speech) -> Speech:
        """Critique ``draft``, revise it, store both; the speech to say."""
        ctx, adv, backend, debate, question = (
            task.ctx,
            task.adv,
            task.backend,
            task.debate,
            task.question,
        )
        speaker, visible, round_, model = task.speaker, task.visible, task.round_, task.model

        def make() -> tuple[Critic, Backend, str]:
            params = SamplingParams(max_new_tokens=2 * self.words, temperature=0.0, seed=ctx.seed)
            critic_model = ctx.models[self.critic]
            return Critic(params, self.words), ctx.speaker_backend(self.critic), critic_model.model

        critic, critic_backend, critic_ref = ctx.once(f"critic:{self.critic}:{self.words}", make)
        note, said = await critic.refine(
            critic_backend,
            adv,
            backend,
            question,
            speaker,
            debate.assignment,
            visible,
            round_,
            draft,
        )
        ctx.store.insert_ignore(
            [
                Candidate(
                    debate_id=debate.id,
                    round=round_,
                    speaker=speaker,
                    kind=kind,
                    model=ref,
                    text=text.text,
                    prompt_tokens=text.prompt_tokens,
                    completion_tokens=text.completion_tokens,
                )
                for kind, ref, text in (("draft", model, draft), ("critique", critic_ref, note))
            ]
        )
        return replace(
            said,
            prompt_tokens=draft.prompt_tokens + said.prompt_tokens,
            completion_tokens=draft.completion_tokens + said.completion_tokens,
            latency_s=draft.latency_s + note.latency_s + said.latency_s,
        )


@dataclass(frozen=True)
class SeatSpeaker:
    """How one seat speaks: its advocate, and optionally best-of-N and critique-and-refine."""

    advocate: AdvocateOf
    best_of: BestOf | None = None
    refine: Refine | None = None


def candidate_seed(seed: int, debate_id: str, round_: int, speaker: str, k: int) -> int:
    """The sampling seed of candidate ``k``: stable across reruns, distinct across candidates."""
    blob = f"{seed}\0{debate_id}\0{round_}\0{speaker}\0{k}".encode()
    return int.from_bytes(hashlib.sha256(blob).digest()[:7], "big")


def ask_node(config: SpeechProtocolConfig) -> Any:
    """The node in which the judge asks its question after the round just spoken, once."""

    def build(ctx: GraphContext) -> tuple[Questioner, Backend, str]:
        alias = config.judge_questions
        assert alias is not None
        model = ctx.models[alias]
        params = SamplingParams(
            max_new_tokens=2 * config.question_words, temperature=0.0, seed=ctx.seed
        )
        asker = Questioner(params, config.question_words, context_policy=model.context_policy)
        return asker, ctx.speaker_backend(alias), model.model

    async def ask(state: DebateState, runtime: Runtime[GraphContext]) -> dict[str, Any]:
        ctx = runtime.context
        debate_id, after = state["debate_id"], state["round"] - 1
        stored = ctx.store.turns(debate_id)
        if any(t.round == after and t.speaker == JUDGE_SEAT.slot for t in stored):
            return {}
        debate, question = ctx.facts(debate_id)
        asker, backend, model = ctx.once(f"questioner:{config.judge_questions}", lambda: build(ctx))
        asked = await asker.ask(backend, question, debate.assignment, stored, after)
        ctx.store.insert_ignore([asked.turn(debate_id, after, JUDGE_SEAT.slot, model)])
        return {}

    return ask


def confident(probs: Sequence[Sequence[float]], threshold: float) -> bool:
    """Whether the ensemble's mean probability of some answer reaches ``threshold``."""
    if not probs:
        return False
    mean = [sum(p[c] for p in probs) / len(probs) for c in range(len(probs[0]))]
    return max(mean) >= threshold


def recursion_limit(
    rounds: int, speakers: int, turns: str, judged_rounds: int, asks: bool = False
) -> int:
    """LangGraph steps one debate takes, with room to spare, so that no number of rounds hits
    LangGraph's default limit of 25 steps. A simultaneous round is three steps (fan-out, the
    speakers in parallel, advance); a sequential round is one step per speaker plus advance;
    verdicts after a round are two steps plus one per judge subgraph (and the judge's
    question one more); judging and finishing are a few more."""
    per_round = 3 if turns == "simultaneous" else speakers + 1
    if judged_rounds:
        per_round += 2 + judged_rounds
    per_round += int(asks)
    return rounds * per_round + 12


def rounds_graph(
    config: SpeechProtocolConfig,
    seats: Sequence[Seat],
    advocate: AdvocateOf,
    *,
    turns: Turns = "simultaneous",
    prelude: Any = None,
    speaker_answers: Bindings | None = None,
    per_seat: Mapping[str, SeatSpeaker] | None = None,
) -> Any:
    """A compiled graph in which ``seats`` speak for ``config.rounds`` rounds, then the judges
    decide. Simultaneous speakers run as parallel branches and each sees only earlier
    rounds; sequential speakers run in order and each sees the speeches before it in the same
    round. ``prelude`` runs once before the first round (an open protocol's choice of sides);
    ``speaker_answers`` are judges of the speakers' own answers (cooperative agents), asked
    after every round and at the end. ``per_seat`` gives a seat's own way of speaking (a
    tournament's two variants) in place of the protocol's.
    """
    builder = StateGraph(DebateState, context_schema=GraphContext)
    _add_judging(builder, speaker_answers)
    builder.add_node("advance", _advance)
    names = [f"speak_{s.slot}" for s in seats]
    for seat, node in zip(seats, names, strict=True):
        builder.add_node(
            node,
            speak_node(
                seat,
                sees_same_round=turns == "sequential",
                speaker_of=(
                    per_seat[seat.slot]
                    if per_seat
                    else SeatSpeaker(advocate, best_of_config(config), refine_config(config))
                ),
            ),
            retry_policy=RETRY,
        )
    first = "round" if turns == "simultaneous" else names[0]
    if prelude is not None:
        builder.add_node("prelude", prelude, retry_policy=RETRY)
        builder.add_edge(START, "prelude")
        builder.add_edge("prelude", first)
    else:
        builder.add_edge(START, first)
    if turns == "simultaneous":
        builder.add_node("round", _noop)
        for node in names:
            builder.add_edge("round", node)
        builder.add_edge(names, "advance")
    else:
        for a, b in itertools.pairwise(names):
            builder.add_edge(a, b)
        builder.add_edge(names[-1], "advance")
    targets: dict[Hashable, str] = {"speak": first, "judges": "final"}
    if config.judge_questions is not None:
        builder.add_node("ask", ask_node(config), retry_policy=RETRY)
        builder.add_edge("ask", first)
        targets["speak"] = "ask"
    after_round = [
        *([("round_answers", build_judge_ensemble(speaker_answers))] if speaker_answers else []),
        *([("round_judges", build_judge_ensemble())] if config.judge_every_round else []),
    ]
    if after_round:
        builder.add_node("verdicts", _verdicts_after_round)
        builder.add_node("decide", _decide(config))
        chain = ["advance", "verdicts", *(n for n, _ in after_round), "decide"]
        for node, subgraph in after_round:
            builder.add_node(node, subgraph)
        for a, b in itertools.pairwise(chain):
            builder.add_edge(a, b)
        builder.add_conditional_edges("decide", _more_rounds(config.rounds), targets)
    else:
        builder.add_conditional_edges("advance", _more_rounds(config.rounds), targets)
    asks = config.judge_questions is not None
    limit = recursion_limit(config.rounds, len(seats), turns, len(after_round), asks)
    return builder.compile().with_config(recursion_limit=limit)


def judges_only_graph() -> Any:
    """A compiled graph with no speakers: the judges decide from the question alone."""
    builder = StateGraph(DebateState, context_schema=GraphContext)
    _add_judging(builder)
    builder.add_edge(START, "final")
    return builder.compile().with_config(recursion_limit=recursion_limit(0, 0, "", 0))


def _add_judging(builder: StateGraph[Any, Any, Any, Any], answers: Bindings | None = None) -> None:
    """The final verdicts and the end: ``final`` -> judges [-> speakers' answers] -> ``finish``."""
    builder.add_node("final", _final_verdicts)
    builder.add_node("judges", build_judge_ensemble())
    builder.add_node("finish", _finish)
    builder.add_edge("final", "judges")
    if answers is not None:
        builder.add_node("final_answers", build_judge_ensemble(answers))
        builder.add_edge("judges", "final_answers")
        builder.add_edge("final_answers", "finish")
    else:
        builder.add_edge("judges", "finish")
    builder.add_edge("finish", END)


def _noop(state: DebateState) -> dict[str, Any]:
    return {}


async def _advance(state: DebateState) -> dict[str, Any]:
    return {"round": state["round"] + 1}


async def _verdicts_after_round(state: DebateState) -> dict[str, Any]:
    return {"after_round": state["round"] - 1}


async def _final_verdicts(state: DebateState) -> dict[str, Any]:
    return {"after_round": FINAL_VERDICT}


async def _finish(state: DebateState, runtime: Runtime[GraphContext]) -> dict[str, Any]:
    runtime.context.store.set_status(state["debate_id"], "complete")
    return {}


def _more_rounds(rounds: int) -> Callable[[DebateState], str]:
    def route(state: DebateState) -> str:
        if state.get("stopped") or state["round"] >= rounds:
            return "judges"
        return "speak"

    return route


def _decide(config: SpeechProtocolConfig) -> Any:
    """After a round's verdicts: stop when the configured confidence rule says so."""

    async def decide(state: DebateState, runtime: Runtime[GraphContext]) -> dict[str, Any]:
        threshold = config.stop_confidence
        spoken = state["round"]
        if threshold is None or spoken < config.min_rounds or spoken >= config.rounds:
            return {}
        ctx = runtime.context
        ids = {b.judge.judge_id for b in ctx.judges}
        after = spoken - 1
        probs = [
            j.probs
            for j in ctx.store.judgments([state["debate_id"]])
            if j.after_round == after and j.judge_id in ids
        ]
        return {"stopped": confident(probs, threshold)}

    return decide
