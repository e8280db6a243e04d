"""The debate file format of Michael et al. 2023 (``julianmichael/debate``), as pydantic models.

The files are the JSON the debate server wrote with circe: a sealed trait is an object with
one key, the case class name (``{"JudgeFeedback": {...}}``); a map keyed by an integer has
string keys (``"0"``); a span is ``[begin, end)``. The models mirror the Scala case classes
(``Debate``, ``DebateSetup``, ``DebateRound``, ``DebateSpeech``, ``OfflineJudgment``) and
accept the older encodings the server could still read. Fields the importer does not use
(survey feedback, scratchpads, scoring rules) are ignored, so later additions to the format
do not break the import; a field it needs that is missing or of the wrong type is an error
whose location names the field.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

DEBATER_ROLE = re.compile(r"^Debater ([A-Z])$")
"""A debater role key: ``Debater A`` argues answer 0, ``Debater B`` answer 1, and so on."""
JUDGE_ROLE = "Judge"


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
    """Token span ``[begin, end)`` into the story's token list."""


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
    the first and after each round they read; ``timed`` judges read it all and judge once. The
    older encoding has no ``judgments`` but an optional final ``result``.
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
        return [JudgeFeedbackData(distribution=self.result.distribution, feedback=speech,
                              endDebate=True)]


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


class ClosingRules(_Node):
    maxRepeatCycles: int
    rounds: list[dict[str, Any]]


class Rules(_Node):
    """``DebateRules``: the round structure (only its length matters to the importer)."""

    fixedOpening: list[dict[str, Any]] = Field(default_factory=list)
    repeatingStructure: list[dict[str, Any]] = Field(default_factory=list)
    fixedClosing: ClosingRules | None = None

    def max_rounds(self) -> int | None:
        """Rounds (speeches, feedback, votes) before time is up; ``None`` when unbounded."""
        if self.fixedClosing is None:
            return len(self.fixedOpening) if not self.repeatingStructure else None
        return (
            len(self.fixedOpening)
            + self.fixedClosing.maxRepeatCycles * len(self.repeatingStructure)
            + len(self.fixedClosing.rounds)
        )


class Setup(_Node):
    """``DebateSetup``: the story, question, answers, ground truth and who took part."""

    rules: Rules | None = None
    sourceMaterial: SourceMaterial
    question: str
    answers: list[str] = Field(min_length=2)
    correctAnswerIndex: int
    roles: dict[str, str] = Field(default_factory=dict)
    """``Judge`` and ``Debater A``, ``Debater B``, ... mapped to participant names."""
    offlineJudges: dict[str, Any] = Field(default_factory=dict)
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
        """Answer indices of the assigned debaters."""
        return sorted(
            ord(m.group(1)) - ord("A") for r in self.roles if (m := DEBATER_ROLE.match(r))
        )


class DebateFile(_Node):
    """One debate room: its setup and its rounds in order."""

    setup: Setup
    rounds: list[Round] = Field(default_factory=list)
