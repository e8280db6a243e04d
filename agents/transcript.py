"""Rendering stored turns as the text a speaker or a judge reads.

Speeches are untrusted text from adversarial speakers. Each one is shown as a block,
``<speech round="1" speaker="Debater defending A">`` ... ``</speech>``, whose header and
attribution only the system writes: inside the speech every spelling of the ``speech`` tag and
of the quote tags is escaped (:func:`oversight.quotes.escape_tags`), so a speech cannot close its
own block, open one in another speaker's name, or mark its own quote verified. A line such as
"Round 2, Debater defending B:" written in a speech stays inside that speech's block.
"""

from __future__ import annotations

from collections.abc import Sequence

from agents.context import omission_note
from oversight.protocol_registry import Seat
from oversight.quotes import QUOTE_TAGS, escape_tags, mark_quotes
from oversight.store.tables import Turn

LETTERS = "ABCDEFGH"
SPEECH_TAG = "speech"
"""The delimiter of one speech in a transcript."""
RESERVED_TAGS: tuple[str, ...] = (*QUOTE_TAGS, SPEECH_TAG)
"""Every tag name the system writes into what speakers and judges read."""
_MARKS: tuple[str, ...] = tuple(t for t in RESERVED_TAGS if t != "quote")
"""Reserved tags escaped in the speakers' view, which keeps their own ``<quote>`` syntax."""


def role_of(speaker: str) -> str:
    """Display role of a stored speaker slot (``debater_1``, ``consultant``, ``agent_2``)."""
    return Seat.parse(speaker).role.display


def speaker_name(speaker: str) -> str:
    """A speaker without a side, by role and number (``Agent 2``)."""
    seat = Seat.parse(speaker)
    return seat.role.display if seat.number is None else f"{seat.role.display} {seat.number}"


def letter_for(choice: int, order: Sequence[int]) -> str:
    """Letter under which ``choice`` is shown when choices are presented in ``order``."""
    return LETTERS[list(order).index(choice)]


def plain(text: str) -> str:
    """Untrusted text shown beside a transcript (a dataset's question, answers or passage)
    with every reserved tag escaped, so that it cannot forge a speech or a verified quote."""
    return escape_tags(text, RESERVED_TAGS)


def speech_block(round_: int, speaker: str, body: str) -> str:
    """One speech as shown; ``body`` must already be escaped, ``speaker`` is system text."""
    return f'<{SPEECH_TAG} round="{round_ + 1}" speaker="{speaker}">\n{body}\n</{SPEECH_TAG}>'


def _omitted(rounds: Sequence[int]) -> list[str]:
    return [omission_note(rounds)] if rounds else []


def for_speaker(
    turns: Sequence[Turn], me: str, assignment: dict[str, int], omitted: Sequence[int] = ()
) -> str:
    """The transcript so far as a speaker sees it: its own speeches and the others'.

    ``omitted`` rounds (left out to fit the model's context) are named in a note first."""
    blocks = _omitted(omitted)
    for t in turns:
        body = escape_tags(t.text.strip(), _MARKS)
        if t.speaker not in assignment:
            # A speaker with no assigned side (a cooperative agent) is named, not sided.
            who = "You" if t.speaker == me else speaker_name(t.speaker)
            blocks.append(speech_block(t.round, who, body))
            continue
        who = "You" if t.speaker == me else f"Opponent ({role_of(t.speaker)})"
        side = letter_for(assignment[t.speaker], range(len(LETTERS)))
        blocks.append(speech_block(t.round, f"{who}, defending {side}", body))
    return "\n\n".join(blocks)


def for_judge(
    turns: Sequence[Turn],
    assignment: dict[str, int],
    order: Sequence[int],
    context: str | None,
    omitted: Sequence[int] = (),
) -> str:
    """The transcript as a judge sees it, under one presentation order of the answers.

    Speakers are named by the letter of the answer they defend in this order, and quotes are
    marked verified or unverified against the hidden context. ``omitted`` rounds (left out to
    fit the model's context) are named in a note first.
    """
    blocks = _omitted(omitted)
    for t in turns:
        body = mark_quotes(t.text.strip(), context, reserved=(SPEECH_TAG,))
        if t.speaker not in assignment:
            blocks.append(speech_block(t.round, speaker_name(t.speaker), body))
            continue
        side = letter_for(assignment[t.speaker], order)
        blocks.append(speech_block(t.round, f"{role_of(t.speaker)} defending {side}", body))
    return "\n\n".join(blocks)


def for_judge_by_seat(
    turns: Sequence[Turn],
    assignment: dict[str, int],
    choices: Sequence[str],
    context: str | None,
    omitted: Sequence[int] = (),
) -> str:
    """The transcript as a judge sees it, the same under every presentation order.

    Speakers are named by seat (``Debater 1``), and a first line per sided speaker names the
    answer it defends by its text, so nothing in the transcript depends on which letter an
    answer is shown under: the two orders of a judgment share the whole transcript as a
    prompt prefix (an engine's prefix cache then prefills it once). Quotes are marked as in
    :func:`for_judge`; answers are dataset text, escaped like the question."""
    sided = [s for s in dict.fromkeys(t.speaker for t in turns) if s in assignment]
    legend = [f"{speaker_name(s)} defends: {plain(choices[assignment[s]])}" for s in sided]
    blocks = ["\n".join(legend)] if legend else []
    blocks += _omitted(omitted)
    for t in turns:
        body = mark_quotes(t.text.strip(), context, reserved=(SPEECH_TAG,))
        blocks.append(speech_block(t.round, speaker_name(t.speaker), body))
    return "\n\n".join(blocks)
