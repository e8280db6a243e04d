"""The debate file format of Michael et al. 2023 (``julianmichael/debate``), as pydantic models.

The files are the JSON the debate server wrote with circe: a sealed trait is an object with
one key, the case class name (``{"JudgeFeedback": {...}}``); a map keyed by an integer has
string keys (``"0"``); a span is ``[begin, end)``. The models mirror the Scala case classes
(``Debate`` in ``debate/src/Debate.scala``, ``DebateSetup`` in ``DebateSetup.scala``,
``DebateRound`` in ``DebateRound.scala``, ``DebateRoundType`` in ``DebateRoundType.scala``,
``DebateRules`` in ``DebateRules.scala``, ``DebateSpeech`` in ``DebateSpeech.scala``,
``OfflineJudgment`` in ``OfflineJudgment.scala``) and accept the older encodings the server
could still read. Fields the importer does not use (survey feedback, scratchpads, scoring
rules, character limits) are ignored, so later additions to the format do not break the
import; a field it needs that is missing or of the wrong type is an error whose location
names the field.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

DEBATER_ROLE = re.compile(r"^Debater ([A-Z])$")
"""A debater role key: ``Debater A`` argues answer 0, ``Debater B`` answer 1, and so on
(``Debater(answerIndex).toString`` and ``LiveDebateRole.fromString`` in ``debate/src/Role.scala``,
``answerLetter`` in ``debate/src/package.scala``)."""
JUDGE_ROLE = "Judge"
"""The live judge's role key (``Judge.toString`` in ``debate/src/Role.scala``)."""


class _Node(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class _OneOf(_Node):
    """A circe-encoded sealed trait: exactly one of the optional fields is present."""

    @model_validator(mode="after")
    def _exactly_one(self) -> _OneOf:
        present = [name for name in type(self).model_fields if getattr(self, name) is not None]
        if len(present) != 1:
            expected = " or ".join(type(self).model_fields)
            raise ValueError(f"expected exactly one of {expected}, found {present or 'none'}")
        return self


class TextSegment(_Node):
    text: str
    """Free text written by the speaker."""


class QuoteSegment(_Node):
    span: tuple[int, int]
    """Token span ``[begin, end)`` into the story's token list.

    Read as jjm's ``ESpan`` decoder reads it (``jjm/src/ling/Span.scala``): the first two
    numbers of the array, ordered (``ESpan.apply`` takes their min and max). Nothing bounds
    it by the story: the platform clamps it when rendering (see
    :func:`oversight.transcripts.ptb.clamp_span`).
    """

    @field_validator("span", mode="before")
    @classmethod
    def _first_two(cls, value: Any) -> Any:
        return value[:2] if isinstance(value, list | tuple) else value

    @field_validator("span", mode="after")
    @classmethod
    def _ordered(cls, value: tuple[int, int]) -> tuple[int, int]:
        return (min(value), max(value))


class Segment(_OneOf):
    """One piece of a speech: free text or a quote from the story."""

    Text: TextSegment | None = None
    Quote: QuoteSegment | None = None


class Speech(_Node):
    """``DebateSpeech``: what one participant wrote at one time."""

    speaker: str
    """The participant's (anonymized) name."""
    timestamp: int
    """Milliseconds since the epoch."""
    content: list[Segment] = Field(default_factory=list)


class SpeechesData(_Node):
    """Simultaneous or sequential speeches, keyed by the index of the answer argued."""

    speeches: dict[int, Speech]


class JudgeFeedbackData(_Node):
    """The judge's probability for each answer and message; ``endDebate`` ends the debate."""

    distribution: list[float]
    feedback: Speech
    endDebate: bool


class NegotiateEndData(_Node):
    """Debaters' votes (by answer index) on ending a debate that has no live judge."""

    votes: dict[int, bool]


class OfflineResult(_Node):
    """The verdict of an offline judge in the older encoding (``OfflineJudgingResult``)."""

    distribution: list[float]
    explanation: str = ""
    timestamp: int


class OfflineJudgment(_Node):
    """A judge who read the finished debate afterwards.

    ``stepped`` judges reveal the debate one speech round at a time and give a judgment before
    the first and after each round they read; ``timed`` judges read it all and judge once
    (``OfflineJudgingMode`` in ``debate/src/OfflineJudgment.scala``). The older encoding has
    no ``judgments`` but an optional final ``result``, which the platform's decoder
    (``offlineJudgmentDecoder``) reads as one judgment that ends the debate.
    """

    mode: Literal["timed", "stepped"] | None = None
    startTimeMillis: int = 0
    judgments: list[JudgeFeedbackData] | None = None
    result: OfflineResult | None = None

    def feedbacks(self) -> list[JudgeFeedbackData]:
        """The judgments in order, the older encoding's result turned into a final one."""
        if self.judgments is not None:
            return list(self.judgments)
        if self.result is None:
            return []
        speech = Speech(
            speaker="",
            timestamp=self.result.timestamp,
            content=[Segment(Text=TextSegment(text=self.result.explanation))],
        )
        return [
            JudgeFeedbackData(
                distribution=self.result.distribution, feedback=speech, endDebate=True
            )
        ]


class OfflineJudgmentsData(_Node):
    judgments: dict[str, OfflineJudgment]
    """Offline judgment by judge name."""


class Round(_OneOf):
    """``DebateRound``: one of the five kinds of round."""

    SimultaneousSpeeches: SpeechesData | None = None
    SequentialSpeeches: SpeechesData | None = None
    JudgeFeedback: JudgeFeedbackData | None = None
    NegotiateEnd: NegotiateEndData | None = None
    OfflineJudgments: OfflineJudgmentsData | None = None

    @property
    def kind(self) -> str:
        return next(name for name in type(self).model_fields if getattr(self, name) is not None)


class StoryMaterial(_Node):
    title: str = ""
    articleId: str | None = None
    """QuALITY article id (absent for custom source material)."""
    contents: list[str]
    """The story as a list of tokens."""


class SourceMaterial(_OneOf):
    QuALITYSourceMaterial: StoryMaterial | None = None
    CustomSourceMaterial: StoryMaterial | None = None

    @property
    def story(self) -> StoryMaterial:
        story = self.QuALITYSourceMaterial or self.CustomSourceMaterial
        assert story is not None  # guaranteed by _OneOf
        return story


class SpeechesRoundType(_Node):
    """``SimultaneousSpeechesRound`` / ``SequentialSpeechesRound``: who must speak."""

    assignedDebatersOnly: bool = False
    """Only the debaters assigned a role speak; otherwise one speech per answer (a missing
    value reads as false, as the platform's decoders read it)."""


class JudgeFeedbackRoundType(_Node):
    """``JudgeFeedbackRound``: the live judge reports a probability per answer."""


class NegotiateEndRoundType(_Node):
    assignedDebatersOnly: bool = False
    """Only the assigned debaters vote; otherwise one vote per answer."""


class RoundType(_OneOf):
    """``DebateRoundType``: what a round of the rules expects."""

    SimultaneousSpeechesRound: SpeechesRoundType | None = None
    SequentialSpeechesRound: SpeechesRoundType | None = None
    JudgeFeedbackRound: JudgeFeedbackRoundType | None = None
    NegotiateEndRound: NegotiateEndRoundType | None = None
    OfflineJudgingRound: dict[str, Any] | None = None

    @property
    def kind(self) -> str:
        return next(name for name in type(self).model_fields if getattr(self, name) is not None)

    @property
    def assigned_only(self) -> bool:
        """Whether only the assigned debaters take part (``assignedDebatersOnly``)."""
        inner = (
            self.SimultaneousSpeechesRound or self.SequentialSpeechesRound or self.NegotiateEndRound
        )
        return inner is not None and inner.assignedDebatersOnly


class ClosingRules(_Node):
    maxRepeatCycles: int = Field(ge=0)
    rounds: list[RoundType]


class Rules(_Node):
    """``DebateRules``: the round structure a debate's rounds are matched against."""

    fixedOpening: list[RoundType] = Field(default_factory=list)
    repeatingStructure: list[RoundType] = Field(default_factory=list)
    fixedClosing: ClosingRules | None = None

    def round_types(self) -> Iterator[RoundType]:
        """The round types in order (``DebateRules.roundTypes``).

        The opening, then the repeating structure: forever without a closing, else repeated
        ``maxRepeatCycles`` times and followed by the closing rounds. Without a closing and
        with an empty repeating structure the platform's list never yields another round (it
        would search an endless empty list), so the structure ends with the opening here.
        """
        yield from self.fixedOpening
        if self.fixedClosing is None:
            while self.repeatingStructure:
                yield from self.repeatingStructure
            return
        for _ in range(self.fixedClosing.maxRepeatCycles):
            yield from self.repeatingStructure
        yield from self.fixedClosing.rounds

    @property
    def has_judge(self) -> bool:
        """Whether a live judge takes part (``DebateRules.hasJudge``)."""
        closing = self.fixedClosing.rounds if self.fixedClosing is not None else []
        return any(
            t.JudgeFeedbackRound is not None or t.OfflineJudgingRound is not None
            for t in [*self.fixedOpening, *self.repeatingStructure, *closing]
        )


class Setup(_Node):
    """``DebateSetup``: the story, question, answers, ground truth and who took part."""

    rules: Rules
    sourceMaterial: SourceMaterial
    question: str
    answers: list[str] = Field(min_length=2)
    correctAnswerIndex: int
    roles: dict[str, str] = Field(default_factory=dict)
    """``Judge`` and ``Debater A``, ``Debater B``, ... mapped to participant names."""
    offlineJudges: dict[str, Any] = Field(default_factory=dict)
    """Offline judges assigned (bookkeeping the server rewrites: ``Debate.clean`` fills it in)."""
    creationTime: int = 0

    @model_validator(mode="after")
    def _check(self) -> Setup:
        if not 0 <= self.correctAnswerIndex < len(self.answers):
            raise ValueError(
                f"correctAnswerIndex {self.correctAnswerIndex} is not an index of the "
                f"{len(self.answers)} answers"
            )
        for role in self.roles:
            match = DEBATER_ROLE.match(role)
            if role != JUDGE_ROLE and match is None:
                raise ValueError(f"roles: unknown role {role!r} (Judge or Debater A, B, ...)")
            if match is not None and ord(match.group(1)) - ord("A") >= len(self.answers):
                raise ValueError(f"roles: {role!r} has no answer to argue")
        return self

    def debater_indices(self) -> list[int]:
        """Answer indices of the assigned debaters (``Debate.stateInfo``'s assignedDebaters)."""
        return sorted(
            ord(m.group(1)) - ord("A") for r in self.roles if (m := DEBATER_ROLE.match(r))
        )


class DebateFile(_Node):
    """One debate room: its setup and its rounds in order."""

    setup: Setup
    rounds: list[Round] = Field(default_factory=list)

    def content_digest(self) -> str:
        """A hash of what makes the debate this debate, whatever file it was read from.

        The platform names a room by its file name (``DebateStateManager.init`` in
        ``debate/src-jvm/DebateStateManager.scala`` reads ``roomName`` off the path), which is
        not content: a copy under another name is the same debate. The digest covers the parsed
        setup (rules, story, question, answers, correct answer, roles, creation time) and every
        round, and leaves out what the server rewrites or what is not the debate: offline judge
        assignments, survey feedback, scratchpads and fields the models ignore. Many rooms share
        a creation time (they were created together), so the rest of the setup and the rounds
        are what tell them apart. Because the digest is taken over the parsed models, a change
        to what they parse changes every imported debate's identity (a golden test pins it).
        """
        content = self.model_dump(
            mode="json", exclude_none=True, exclude={"setup": {"offlineJudges"}}
        )
        canonical = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        return hashlib.sha256(canonical.encode()).hexdigest()
