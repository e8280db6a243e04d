"""Import of the human debates of Michael et al. 2023 ("Debate Helps Supervise Unreliable Experts").

One file of ``julianmichael/debate`` (format in :mod:`oversight.transcripts.nyu_format`)
becomes one Debate with its Question, Turns and Judgments. Every rule below follows the
platform's own code (paths are in that repository; the comments at each rule name the
function):

- the story's tokens, rendered as the platform shows them (:mod:`oversight.transcripts.ptb`),
  are the question's hidden context; the question, its answers and ``correctAnswerIndex`` are
  kept as they are (the same question debated in several rooms is one Question: ids are
  content hashes);
- a debate is identified by its content (:meth:`DebateFile.content_digest`), never by its
  file name, so a renamed copy of a file is the same debate and adds nothing;
- the protocol follows the roles: two or more assigned debaters are a ``debate``, otherwise a
  ``consultancy``; rules without a judge round (debaters only, judged offline afterwards)
  add the suffix ``-unjudged``;
- ``Debater A`` argues answer 0, ``Debater B`` answer 1: speaker slots are ``debater_1``,
  ``debater_2`` (``consultant`` in a consultancy), as in the project's own protocols;
- the rounds are matched against the rules' round structure as the platform does it, which
  decides when the debate is over (the judge ended it, the debaters agreed, or the structure
  ran out) and rejects a file whose rounds do not fit the structure;
- every speech round (simultaneous or sequential) is one round of Turns; quotes are token spans
  into the story, clamped as the platform clamps them, written into the text as
  ``<quote>...</quote>`` around the story's own words and listed as verified (they cannot be
  anything but the story), with the platform's own rendering of the quote as ``shown``; a
  span of bare punctuation stays plain text;
- each probability the live judge reported is a Judgment of ``human:<name>`` whose
  ``after_round`` is the last speech round it had read (:data:`BEFORE_FIRST_ROUND` for the
  belief reported before any speech); the judgment that ended the debate is also stored as
  the final verdict (``after_round`` -1). Offline judges are ``human-offline:<name>``:
  stepped ones per round as they revealed the debate, every one with its final verdict. The
  judge's written feedback is kept in ``raw["feedback"]``;
- a debate is complete when it is over; otherwise it is stored as pending.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import ValidationError

from oversight.data.errors import DataError
from oversight.data.records import make_question
from oversight.judging import HumanJudge, JudgeVerdict, judgment_row
from oversight.store import Debate, Judgment, Question, Turn
from oversight.store.judges import BEFORE_FIRST_ROUND, FINAL_VERDICT
from oversight.transcripts.bundle import (
    DebateBundle,
    ExperimentSpec,
    config_hash,
    debate_id,
    package_version,
)
from oversight.transcripts.nyu_format import (
    DebateFile,
    JudgeFeedbackData,
    Round,
    RoundType,
    Segment,
    SpeechesData,
)
from oversight.transcripts.ptb import RenderedTokens, render_span, render_tokens

SOURCE = "julianmichael/debate"
DEFAULT_EXPERIMENT = "nyu-debates"
PROBABILITY_TOLERANCE = 1e-6
"""How far a reported distribution may sum from 1. The platform's sliders keep every
distribution normalized (``Utils.adjustProbability`` and ``Utils.normalize`` in
``debate/src/Utils.scala``), so only floating-point error is allowed."""
AI_PARTICIPANT = "GPT-4"
"""The participant name of the platform's AI debater: a room is an AI room when a role is
held by it (``DebateSetting.fromDebate`` in ``debate/src/DebateSetting.scala``)."""

IMPORT_CONFIG: dict[str, Any] = {"imported": {"format": "nyu", "source": SOURCE}}

Outcome = Literal["next", "turn", "judge", "agreement"]
"""What one round did (``DebateTurnTypeResult`` in ``debate/src/DebateRoundType.scala``):
completed its round type, left it waiting for more speakers, or ended the debate."""


def experiment_spec(name: str = DEFAULT_EXPERIMENT) -> ExperimentSpec:
    """The experiment NYU debates are imported into: its config says where they came from."""
    return ExperimentSpec(name, IMPORT_CONFIG, config_hash(IMPORT_CONFIG), package_version())


def read_nyu_file(path: Path) -> DebateFile:
    """Parse one debate file; a malformed one raises a DataError naming the file and field."""
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise DataError(
            path, f"invalid JSON: {err.msg} (column {err.colno})", line=err.lineno
        ) from None
    except (OSError, UnicodeDecodeError) as err:
        raise DataError(path, f"cannot read: {err}") from None
    try:
        return DebateFile.model_validate(raw)
    except ValidationError as err:
        first = err.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or None
        more = f" (and {err.error_count() - 1} more problems)" if err.error_count() > 1 else ""
        raise DataError(
            path, first["msg"].removeprefix("Value error, ") + more, field=where
        ) from None


def nyu_bundle(path: Path, experiment: str) -> DebateBundle:
    """Read and convert one debate file for the experiment named ``experiment``."""
    return _Converter(path, read_nyu_file(path), experiment).convert()


def debate_key(doc: DebateFile) -> str:
    """The debate's key: a readable prefix and the digest of its content.

    The prefix is the one the platform gives a room (``DebateStateManager.createDebates``:
    the title's first five words, letters and digits only, joined by ``-``, lower case), for
    people reading the Store; the digest alone makes the key unique, so two rooms on one story
    differ and a renamed copy of a file does not.
    """
    words = re.split(r"\s+", doc.setup.sourceMaterial.story.title)[:5]
    prefix = "-".join("".join(c for c in w if c.isalnum()) for w in words).lower()
    return f"nyu|{prefix}|{doc.content_digest()[:32]}"


def _when(millis: int) -> datetime:
    return datetime.fromtimestamp(millis / 1000, UTC)


class _Converter:
    """Walks the rounds of one file in order, building rows and checking them as it goes."""

    def __init__(self, path: Path, doc: DebateFile, experiment: str) -> None:
        self.path = path
        self.doc = doc
        self.setup = doc.setup
        self.n_answers = len(doc.setup.answers)
        self.tokens = doc.setup.sourceMaterial.story.contents
        self.story: RenderedTokens = render_tokens(self.tokens)
        self.key = debate_key(doc)
        self.debate_id = debate_id(experiment, self.key)
        self.turns: list[Turn] = []
        self.judgments: dict[tuple[str, int], Judgment] = {}
        self.speech_rounds = 0
        # Debate.stateInfo: assignedDebaters are the Debater roles of the setup.
        self.assigned: set[int] = set(doc.setup.debater_indices())
        self.speakers: set[int] = set()
        self.ended: str | None = None
        """Why the debate is over (``DebateEndReason``), or ``None`` while it is not."""
        self.round_types: Iterator[RoundType] = doc.setup.rules.round_types()
        self.upcoming: RoundType | None = next(self.round_types, None)

    def fail(self, field: str, problem: str) -> DataError:
        return DataError(self.path, problem, field=field)

    # -- the walk --------------------------------------------------------------------------

    def convert(self) -> DebateBundle:
        """Follow ``Debate.stateInfo`` (``debate/src/Debate.scala``): each round but offline
        judging takes the next round type of the rules, and its outcome may end the debate."""
        offline_seen = False
        for i, rnd in enumerate(self.doc.rounds):
            where = f"rounds.{i}.{rnd.kind}"
            if rnd.OfflineJudgments is not None:
                # Debate.stateInfo: "Offline judging can only happen after the debate is
                # finished" and "can only happen once".
                if self.ended is None:
                    raise self.fail(where, "offline judging before the debate had ended")
                if offline_seen:
                    raise self.fail(where, "offline judging can only happen once")
                offline_seen = True
                for name, judgment in rnd.OfflineJudgments.judgments.items():
                    self.offline(
                        name, judgment.mode, judgment.feedbacks(), f"{where}.judgments.{name}"
                    )
                continue
            rtype = self.upcoming
            if rtype is None:
                # Debate.stateInfo: "Too many rounds! Can't match to the debate structure".
                raise self.fail(where, "more rounds than the debate's rules allow")
            if self.ended is not None:
                # Debate.stateInfo: once there is a result, the only transition left is
                # offline judging (startOfflineJudging).
                raise self.fail(where, f"a {rnd.kind} round after the debate had ended")
            self.upcoming = next(self.round_types, None)
            outcome = self.outcome(rtype, rnd, where)
            if rnd.SimultaneousSpeeches is not None or rnd.SequentialSpeeches is not None:
                speeches = rnd.SimultaneousSpeeches or rnd.SequentialSpeeches
                assert speeches is not None
                self.speeches(speeches, where)
            elif rnd.JudgeFeedback is not None:
                self.live_feedback(rnd.JudgeFeedback, where, ends=outcome == "judge")
            if outcome == "judge":
                self.ended = "JudgeDecided"
            elif outcome == "agreement":
                self.ended = "MutualAgreement"
            elif outcome == "next" and self.upcoming is None:
                self.ended = "TimeUp"  # Debate.stateInfo: a completed last round type
        question = self.question()
        return DebateBundle(
            question, self.debate(question.id), self.turns, list(self.judgments.values())
        )

    def outcome(self, rtype: RoundType, rnd: Round, where: str) -> Outcome:
        """``DebateRoundType.getTurn`` (``debate/src/DebateRoundType.scala``): what a round does
        to the round type it was matched with; a round of another kind is a mismatch."""
        if rtype.kind != f"{rnd.kind}Round":
            raise self.fail(
                where, f"a {rnd.kind} round where the debate's rules expect a {rtype.kind}"
            )
        # getFirstTurn / getTurn: assignedDebatersOnly rounds are for the assigned debaters,
        # the others for one debater per answer.
        desired = self.assigned if rtype.assigned_only else set(range(self.n_answers))
        if rnd.SimultaneousSpeeches is not None:
            for idx in rnd.SimultaneousSpeeches.speeches:
                self.check_answer(idx, f"{where}.speeches")
            done = len(rnd.SimultaneousSpeeches.speeches) == len(desired)
            return "next" if done else "turn"
        if rnd.SequentialSpeeches is not None:
            for idx in rnd.SequentialSpeeches.speeches:
                self.check_answer(idx, f"{where}.speeches")
            return "turn" if desired - set(rnd.SequentialSpeeches.speeches) else "next"
        if rnd.JudgeFeedback is not None:
            return "judge" if rnd.JudgeFeedback.endDebate else "next"
        assert rnd.NegotiateEnd is not None
        votes = rnd.NegotiateEnd.votes
        for idx in votes:
            self.check_answer(idx, f"{where}.votes")
        if len(votes) != len(desired):
            return "turn"
        return "agreement" if all(votes.values()) else "next"

    def speeches(self, data: SpeechesData, where: str) -> None:
        if not data.speeches:
            raise self.fail(f"{where}.speeches", "a speech round without speeches")
        for idx in sorted(data.speeches):
            speech = data.speeches[idx]
            text, quotes = self.render(speech.content, f"{where}.speeches.{idx}.content")
            self.speakers.add(idx)
            # DebateSetting.fromDebate: the AI debater takes part under its own name.
            human = speech.speaker != AI_PARTICIPANT
            model = f"human:{speech.speaker}" if human else speech.speaker
            self.turns.append(
                Turn(
                    debate_id=self.debate_id,
                    round=self.speech_rounds,
                    speaker=str(idx),  # the slot name is known once all debaters are seen
                    model=model,
                    text=text,
                    quotes=quotes,
                    created=_when(speech.timestamp),
                )
            )
        self.speech_rounds += 1

    def live_feedback(self, fb: JudgeFeedbackData, where: str, *, ends: bool) -> None:
        name = fb.feedback.speaker or self.setup.roles.get("Judge", "") or "unknown"
        judge = HumanJudge(name)
        after = self.speech_rounds - 1 if self.speech_rounds else BEFORE_FIRST_ROUND
        self.judgment(judge, after, fb, where, {})
        if ends:
            # Debate.stateInfo (EndByJudge): the feedback that ends the debate is the final
            # judgement of its result.
            self.judgment(judge, FINAL_VERDICT, fb, where, {})

    def offline(
        self, name: str, mode: str | None, feedbacks: list[JudgeFeedbackData], where: str
    ) -> None:
        # Debate.clean names each offline judgment's speaker after its key, the judge.
        judge = HumanJudge(name, offline=True)
        extra = {"offline_mode": mode or "timed"}
        field = f"{where}.judgments"
        if mode == "stepped":
            # Debate.visibleRounds: a stepped judge who has given k judgments sees only the
            # rounds preceded by fewer than k speech rounds, so its judgment k is given after
            # k speech rounds (judgment 0 before any).
            if len(feedbacks) > self.speech_rounds + 1:
                raise self.fail(
                    field,
                    f"{len(feedbacks)} stepped judgments for {self.speech_rounds} speech rounds "
                    "(at most one before the first round and one after each)",
                )
            for k, fb in enumerate(feedbacks):
                after = k - 1 if k else BEFORE_FIRST_ROUND
                self.judgment(
                    judge,
                    after,
                    fb,
                    f"{field}.{k}",
                    extra,
                    rounds_seen=k,
                )
        # OfflineJudgment.result (debate/src/OfflineJudgment.scala): the last judgment, when
        # it ends the debate, is the judge's verdict; a timed judge read everything.
        if feedbacks and feedbacks[-1].endDebate:
            seen = len(feedbacks) - 1 if mode == "stepped" else self.speech_rounds
            last = len(feedbacks) - 1
            self.judgment(
                judge,
                FINAL_VERDICT,
                feedbacks[-1],
                f"{field}.{last}",
                extra,
                rounds_seen=seen,
            )

    # -- rows --------------------------------------------------------------------------------

    def judgment(
        self,
        judge: HumanJudge,
        after_round: int,
        fb: JudgeFeedbackData,
        where: str,
        extra: dict[str, Any],
        rounds_seen: int | None = None,
    ) -> None:
        probs = self.distribution(fb.distribution, f"{where}.distribution")
        text, _ = self.render(fb.feedback.content, f"{where}.feedback.content")
        order = ",".join(str(i) for i in range(self.n_answers))
        raw: dict[str, Any] = {
            "judge": judge.judge_id,
            "source": SOURCE,
            "feedback": text,
            "end_debate": fb.endDebate,
            "rounds_seen": self.speech_rounds if rounds_seen is None else rounds_seen,
            **extra,
        }
        # A later report for the same point supersedes an earlier one.
        verdict = JudgeVerdict(probs=probs, probs_by_order={order: probs}, raw=raw)
        row = judgment_row(judge, self.debate_id, after_round, verdict)
        row.created = _when(fb.feedback.timestamp)
        self.judgments[(judge.judge_id, after_round)] = row

    def distribution(self, values: list[float], field: str) -> list[float]:
        """A judge's probability per answer: the platform indexes it by answer
        (``JudgingResult.finalJudgement`` in ``debate/src/package.scala``, read at
        ``correctAnswerIndex``), so it must have one entry per answer."""
        if len(values) != self.n_answers:
            raise self.fail(field, f"{len(values)} probabilities for {self.n_answers} answers")
        if any(not math.isfinite(p) or p < 0 or p > 1 for p in values):
            raise self.fail(field, f"probabilities must lie in [0, 1], got {values}")
        if abs(sum(values) - 1) > PROBABILITY_TOLERANCE:
            raise self.fail(field, f"probabilities sum to {sum(values):.6f}, not 1")
        return [float(p) for p in values]

    def render(self, content: list[Segment], where: str) -> tuple[str, list[dict[str, Any]]]:
        """Speech text with each quote written out from the story, and the quotes.

        Text segments are kept as written; a quote segment is the story's text over its span,
        clamped as ``Utils.renderSpan`` clamps it (``debate/src/Utils.scala``), so a span that
        runs past the story quotes up to its end. Its ``text`` is cut from the story's
        rendering, so that it verifies against the context; ``shown`` is the platform's own
        rendering of the quote, which can differ in the spaces next to quotation marks.
        """
        parts: list[str] = []
        quotes: list[dict[str, Any]] = []
        for seg in content:
            if seg.Text is not None:
                parts.append(seg.Text.text)
                continue
            assert seg.Quote is not None
            begin, end = seg.Quote.span
            quote = self.story.span_text(begin, end)
            if not any(c.isalnum() for c in quote):
                # A span of bare punctuation or a line break quotes nothing a judge could
                # check; it stays in the text as written, not as evidence.
                parts.append(quote)
                continue
            parts.append(f"<quote>{quote}</quote>")
            quotes.append(
                {
                    "text": quote,
                    "verified": True,
                    "span": [begin, end],
                    "shown": render_span(self.tokens, begin, end),
                }
            )
        return "".join(parts), quotes

    def check_answer(self, idx: int, field: str) -> None:
        # Speeches and votes are keyed by answer index (DebateRound.scala).
        if not 0 <= idx < self.n_answers:
            raise self.fail(field, f"answer index {idx} is not one of the {self.n_answers} answers")

    def is_debate(self) -> bool:
        """``DebateSetting.fromDebate``: a debate has more than one assigned debater."""
        return len(self.assigned) > 1

    def slots(self) -> dict[int, str]:
        """Speaker slot per answer index, named as the project's own protocols name them."""
        indices = self.assigned | self.speakers
        if not self.is_debate() and len(indices) == 1:
            return {idx: "consultant" for idx in indices}
        return {idx: f"debater_{idx + 1}" for idx in sorted(indices)}

    def question(self) -> Question:
        story = self.setup.sourceMaterial.story
        return make_question(
            dataset="quality",
            split="nyu-debates",
            text=self.setup.question,
            choices=list(self.setup.answers),
            correct_index=self.setup.correctAnswerIndex,
            context=self.story.text,
            source_id=story.articleId,
            meta={"title": story.title, "source": SOURCE},
        )

    def debate(self, question_id: str) -> Debate:
        slots = self.slots()
        for turn in self.turns:
            turn.speaker = slots[int(turn.speaker)]
        kind = "debate" if self.is_debate() else "consultancy"
        # DebateRules.hasJudge: whether any round of the rules is a judge's.
        protocol = kind if self.setup.rules.has_judge else f"{kind}-unjudged"
        debate = Debate(
            id=self.debate_id,
            experiment_id=0,  # set when written
            question_id=question_id,
            protocol=protocol,
            key=self.key,
            assignment={slot: idx for idx, slot in slots.items()},
            rounds=self.speech_rounds,
            # Debate.status: complete once there is a result (isOver), otherwise waiting or
            # in progress.
            status="complete" if self.ended is not None else "pending",
        )
        if self.setup.creationTime:
            debate.created = _when(self.setup.creationTime)
        return debate
