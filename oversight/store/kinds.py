"""Judge kinds: what kind of judge gave a verdict, as data on every Judgment."""

from __future__ import annotations

from enum import StrEnum

HUMAN_PREFIX = "human:"
"""Judge ids of live human judges: ``human:<name>``."""
OFFLINE_HUMAN_PREFIX = "human-offline:"
"""Judge ids of human judges who read a finished transcript afterwards."""
AGENT_PREFIX = "agent:"
"""Judge ids of speakers' own answers: ``agent:<seat>:<model>@<digest>``."""
TRAINED_PREFIX = "trained:"
"""Judge ids of trained classifier judges: ``trained:<training run name>``."""


class JudgeKind(StrEnum):
    """What kind of judge gave a verdict; stored on every Judgment and grouped on in reports."""

    PROMPTED = "prompted"
    """A language model prompted with the transcript, scored from next-token log-probs."""
    TRAINED = "trained"
    """A classifier fine-tuned on labelled questions (a weak judge of the pipeline)."""
    HUMAN_LIVE = "human-live"
    """A person who judged while the debate ran (imported transcripts)."""
    HUMAN_OFFLINE = "human-offline"
    """A person who read the finished transcript afterwards (imported transcripts)."""
    AGENT = "agent"
    """A speaker's own answer (a cooperative agent's, Du et al. 2023; an open protocol's
    choice of side), scored from its model's next-token log-probs."""


def legacy_kind(judge_id: str) -> JudgeKind:
    """The kind of a judgment stored before kinds were recorded, read off its id's prefix.

    Only for rows and exports written by earlier versions; new rows carry their kind.
    """
    if judge_id.startswith(OFFLINE_HUMAN_PREFIX):
        return JudgeKind.HUMAN_OFFLINE
    if judge_id.startswith(HUMAN_PREFIX):
        return JudgeKind.HUMAN_LIVE
    if judge_id.startswith(TRAINED_PREFIX):
        return JudgeKind.TRAINED
    if judge_id.startswith(AGENT_PREFIX):
        return JudgeKind.AGENT
    return JudgeKind.PROMPTED
