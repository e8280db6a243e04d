"""Import of the human debates of Michael et al. 2023 ("Debate Helps Supervise Unreliable Experts").

One file of ``julianmichael/debate`` (format in :mod:`oversight.transcripts.nyu_format`)
becomes one Debate with its Question, Turns and Judgments:

- the story's tokens, rendered to text, are the question's hidden context; the question,
  its answers and ``correctAnswerIndex`` are kept as they are (the same question debated in
  several rooms is one Question: ids are content hashes);
- the protocol follows the roles: two or more debaters are a ``debate``, one is a
  ``consultancy``; without a live judge (debaters only, judged offline afterwards) the name
  gets the suffix ``-unjudged``;
- ``Debater A`` argues answer 0, ``Debater B`` answer 1: speaker slots are ``debater_1``,
  ``debater_2`` (``consultant`` in a consultancy), as in the project's own protocols;
- every speech round (simultaneous or sequential) is one round of Turns; quotes are token spans
  into the story, written into the text as ``<quote>...</quote>`` around the story's own words
  and listed as verified (they cannot be anything but the story); a span of bare punctuation
  stays plain text;
- each probability the live judge reported is a Judgment of ``human:<name>`` whose
  ``after_round`` is the last speech round it had read (:data:`BEFORE_FIRST_ROUND` for the
  belief reported before any speech); the judgment that ended the debate is also stored as
  the final verdict (``after_round`` -1). Offline judges are ``human-offline:<name>``:
  stepped ones per round as they revealed the debate, every one with its final verdict. The
  judge's written feedback is kept in ``raw["feedback"]``;
- a debate is complete when the judge ended it, the debaters agreed to end it, its round
  structure ran out, or offline judges judged it; otherwise it is stored as pending.
"""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from oversight.data.errors import DataError
from oversight.data.records import make_question
from oversight.store import Debate, Judgment, Question, Turn
from oversight.store.judges import BEFORE_FIRST_ROUND, FINAL_VERDICT, human_judge_id
from oversight.transcripts.bundle import (
    DebateBundle,
    ExperimentSpec,
    config_hash,
    debate_id,
    package_version,
)
from oversight.transcripts.nyu_format import (
    JUDGE_ROLE,
    DebateFile,
    JudgeFeedbackData,
    Segment,
    SpeechesData,
)
from oversight.transcripts.ptb import RenderedTokens, render_tokens

SOURCE = "julianmichael/debate"
DEFAULT_EXPERIMENT = "nyu-debates"
PROBABILITY_TOLERANCE = 0.01
"""How far a reported distribution may sum from 1 (the app rounds slider values)."""

IMPORT_CONFIG: dict[str, Any] = {"imported": {"format": "nyu", "source": SOURCE}}


def experiment_spec(name: str = DEFAULT_EXPERIMENT) -> ExperimentSpec:
    """The experiment NYU debates are imported into: its config says where they came from."""
    return ExperimentSpec(name, IMPORT_CONFIG, config_hash(IMPORT_CONFIG), package_version())


def read_nyu_file(path: Path) -> DebateFile:
    """Parse one debate file; a malformed one raises a DataError naming the file and field."""
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise DataError(path, f"invalid JSON: {err.msg} (column {err.colno})",
                        line=err.lineno) from None
    except (OSError, UnicodeDecodeError) as err:
        raise DataError(path, f"cannot read: {err}") from None
    try:
        return DebateFile.model_validate(raw)
    except ValidationError as err:
        first = err.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or None
        more = f" (and {err.error_count() - 1} more problems)" if err.error_count() > 1 else ""
        raise DataError(path, first["msg"].removeprefix("Value error, ") + more,
                        field=where) from None


def nyu_bundle(path: Path, experiment: str) -> DebateBundle:
    """Read and convert one debate file for the experiment named ``experiment``."""
    return _Converter(path, read_nyu_file(path), experiment).convert()


def _when(millis: int) -> datetime:
    return datetime.fromtimestamp(millis / 1000, UTC)


class _Converter:
    """Walks the rounds of one file in order, building rows and checking them as it goes."""

    def __init__(self, path: Path, doc: DebateFile, experiment: str) -> None:
        self.path = path
        self.doc = doc
        self.setup = doc.setup
        self.n_answers = len(doc.setup.answers)
        self.story: RenderedTokens = render_tokens(doc.setup.sourceMaterial.story.contents)
        self.key = f"nyu|{path.stem}|{doc.setup.creationTime}"
        self.debate_id = debate_id(experiment, self.key)
        self.turns: list[Turn] = []
        self.judgments: dict[tuple[str, int], Judgment] = {}
        self.speech_rounds = 0
        self.debaters: set[int] = set(doc.setup.debater_indices())
        self.ended = False
        self.has_live_judge = JUDGE_ROLE in doc.setup.roles

    def fail(self, field: str, problem: str) -> DataError:
        return DataError(self.path, problem, field=field)

    # -- the walk --------------------------------------------------------------------------

    def convert(self) -> DebateBundle:
        offline_seen = False
        for i, rnd in enumerate(self.doc.rounds):
            where = f"rounds.{i}.{rnd.kind}"
            if rnd.SimultaneousSpeeches is not None or rnd.SequentialSpeeches is not None:
                speeches = rnd.SimultaneousSpeeches or rnd.SequentialSpeeches
                assert speeches is not None
                self.speeches(speeches, where)
            elif rnd.JudgeFeedback is not None:
                self.live_feedback(rnd.JudgeFeedback, where)
            elif rnd.NegotiateEnd is not None:
                votes = rnd.NegotiateEnd.votes
                for idx in votes:
                    self.check_answer(idx, f"{where}.votes")
                voters = self.debaters or set(range(self.n_answers))
                if votes and all(votes.values()) and voters <= set(votes):
                    self.ended = True
            elif rnd.OfflineJudgments is not None:
                if offline_seen:
                    raise self.fail(where, "offline judging can only happen once")
                offline_seen = True
                # The server opens offline judging only once a debate has ended.
                self.ended = True
                for name, judgment in rnd.OfflineJudgments.judgments.items():
                    self.offline(name, judgment.mode, judgment.feedbacks(),
                                 f"{where}.judgments.{name}")
        self.time_up()
        question = self.question()
        return DebateBundle(question, self.debate(question.id), self.turns,
                            list(self.judgments.values()))

    def time_up(self) -> None:
        rules = self.setup.rules
        limit = rules.max_rounds() if rules is not None else None
        live_rounds = [r for r in self.doc.rounds if r.OfflineJudgments is None]
        if limit is not None and live_rounds and len(live_rounds) >= limit:
            self.ended = True

    def speeches(self, data: SpeechesData, where: str) -> None:
        if self.ended:
            raise self.fail(where, "a speech after the debate had ended")
        if not data.speeches:
            raise self.fail(f"{where}.speeches", "a speech round without speeches")
        for idx in sorted(data.speeches):
            self.check_answer(idx, f"{where}.speeches")
            speech = data.speeches[idx]
            text, quotes = self.render(speech.content, f"{where}.speeches.{idx}.content")
            self.debaters.add(idx)
            self.turns.append(
                Turn(
                    debate_id=self.debate_id,
                    round=self.speech_rounds,
                    speaker=str(idx),  # the slot name is known once all debaters are seen
                    model=f"human:{speech.speaker}",
                    text=text,
                    quotes=quotes,
                    created=_when(speech.timestamp),
                )
            )
        self.speech_rounds += 1

    def live_feedback(self, fb: JudgeFeedbackData, where: str) -> None:
        if self.ended:
            raise self.fail(where, "judge feedback after the debate had ended")
        self.has_live_judge = True
        name = fb.feedback.speaker or self.setup.roles.get(JUDGE_ROLE, "") or "unknown"
        judge = human_judge_id(name)
        after = self.speech_rounds - 1 if self.speech_rounds else BEFORE_FIRST_ROUND
        self.judgment(judge, after, fb, where, {})
        if fb.endDebate:
            self.judgment(judge, FINAL_VERDICT, fb, where, {})
            self.ended = True

    def offline(
        self, name: str, mode: str | None, feedbacks: list[JudgeFeedbackData], where: str
    ) -> None:
        judge = human_judge_id(name, offline=True)
        extra = {"offline_mode": mode or "timed"}
        field = f"{where}.judgments"
        if mode == "stepped":
            if len(feedbacks) > self.speech_rounds + 1:
                raise self.fail(
                    field,
                    f"{len(feedbacks)} stepped judgments for {self.speech_rounds} speech rounds "
                    "(at most one before the first round and one after each)",
                )
            for k, fb in enumerate(feedbacks):
                after = k - 1 if k else BEFORE_FIRST_ROUND
                self.judgment(judge, after, fb, f"{field}.{k}", extra, rounds_seen=k)
        if feedbacks and feedbacks[-1].endDebate:
            seen = len(feedbacks) - 1 if mode == "stepped" else self.speech_rounds
            last = len(feedbacks) - 1
            self.judgment(judge, FINAL_VERDICT, feedbacks[-1], f"{field}.{last}", extra,
                          rounds_seen=seen)

    # -- rows --------------------------------------------------------------------------------

    def judgment(
        self,
        judge: str,
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
            "judge": judge,
            "source": SOURCE,
            "feedback": text,
            "end_debate": fb.endDebate,
            "rounds_seen": self.speech_rounds if rounds_seen is None else rounds_seen,
            **extra,
        }
        # A later report for the same point supersedes an earlier one.
        self.judgments[(judge, after_round)] = Judgment(
            debate_id=self.debate_id,
            judge_id=judge,
            model="human",
            after_round=after_round,
            probs=probs,
            probs_by_order={order: probs},
            raw=raw,
            created=_when(fb.feedback.timestamp),
        )

    def distribution(self, values: list[float], field: str) -> list[float]:
        if len(values) != self.n_answers:
            raise self.fail(field, f"{len(values)} probabilities for {self.n_answers} answers")
        if any(not math.isfinite(p) or p < 0 or p > 1 for p in values):
            raise self.fail(field, f"probabilities must lie in [0, 1], got {values}")
        if abs(sum(values) - 1) > PROBABILITY_TOLERANCE:
            raise self.fail(field, f"probabilities sum to {sum(values):.4f}, not 1")
        return [float(p) for p in values]

    def render(self, content: list[Segment], where: str) -> tuple[str, list[dict[str, Any]]]:
        """Speech text with each quote written out from the story, and the quotes."""
        parts: list[str] = []
        quotes: list[dict[str, Any]] = []
        for k, seg in enumerate(content):
            if seg.Text is not None:
                parts.append(seg.Text.text)
                continue
            assert seg.Quote is not None
            begin, end = seg.Quote.span
            if not 0 <= begin <= end <= len(self.story.starts):
                raise self.fail(
                    f"{where}.{k}.Quote.span",
                    f"span [{begin}, {end}) is outside the story's {len(self.story.starts)} "
                    "tokens",
                )
            quote = self.story.span_text(begin, end)
            if not any(c.isalnum() for c in quote):
                # A span of bare punctuation or a line break quotes nothing a judge could
                # check; it stays in the text as written, not as evidence.
                parts.append(quote)
                continue
            parts.append(f"<quote>{quote}</quote>")
            quotes.append({"text": quote, "verified": True, "span": [begin, end]})
        return "".join(parts), quotes

    def check_answer(self, idx: int, field: str) -> None:
        if not 0 <= idx < self.n_answers:
            raise self.fail(field, f"answer index {idx} is not one of the "
                                   f"{self.n_answers} answers")

    def slots(self) -> dict[int, str]:
        """Speaker slot per answer index, named as the project's own protocols name them."""
        if len(self.debaters) == 1:
            return {idx: "consultant" for idx in self.debaters}
        return {idx: f"debater_{idx + 1}" for idx in sorted(self.debaters)}

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
        kind = "consultancy" if len(self.debaters) == 1 else "debate"
        debate = Debate(
            id=self.debate_id,
            experiment_id=0,  # set when written
            question_id=question_id,
            protocol=kind if self.has_live_judge else f"{kind}-unjudged",
            key=self.key,
            assignment={slot: idx for idx, slot in slots.items()},
            rounds=self.speech_rounds,
            status="complete" if self.ended else "pending",
        )
        if self.setup.creationTime:
            debate.created = _when(self.setup.creationTime)
        return debate
