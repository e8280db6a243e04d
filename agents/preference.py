"""How persuasive a candidate speech is for its speaker's side, by a judge's log-probs.

Best-of-N speakers (Khan et al. 2024; nyu-debate-modeling) keep the candidate a preference
model rates most persuasive. The preference model is a prompted judge: for each candidate it
reads the transcript the speaker saw plus the candidate as the speaker's next speech and
scores the answer labels (one prefill per candidate, answers in the dataset's order, no text
parsed); the score is its probability of the speaker's answer. The highest score wins; an
exact tie goes to the earliest candidate.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from agents.judge import PromptedJudge
from oversight.backends.base import Backend, BackendError, ScoreRequest
from oversight.store.tables import Question, Turn

ORDER = (0, 1)


@dataclass(frozen=True)
class SpeechPreference:
    """A prompted judge used as the preference model of best-of-N speeches."""

    judge: PromptedJudge

    async def scores(
        self,
        backend: Backend,
        question: Question,
        speaker: str,
        assignment: dict[str, int],
        seen: Sequence[Turn],
        round_: int,
        texts: Sequence[str],
    ) -> list[float]:
        """P(the speaker's answer) after each candidate, in one batch of prefills."""
        if speaker not in assignment:
            raise ValueError(f"{speaker}: best-of-N needs a speaker with an answer to defend")
        requests = [
            ScoreRequest(
                self.judge.messages(
                    question,
                    [*seen, Turn(debate_id="", round=round_, speaker=speaker, model="", text=t)],
                    assignment,
                    ORDER,
                ),
                labels=list(self.judge.labels),
                assistant_prefix=self.judge.assistant_prefix,
            )
            for t in texts
        ]
        scored = await backend.score_choices(requests)
        mine = ORDER.index(assignment[speaker])
        out = []
        for s in scored:
            if s.probs is None:
                raise BackendError(
                    f"preference model {self.judge.name}: labels {s.missing} missing from the "
                    "backend's log-probs"
                )
            out.append(float(s.probs[mine]))
        return out


def best(scores: Sequence[float]) -> int:
    """Index of the highest score; the earliest of exact ties."""
    return max(range(len(scores)), key=lambda i: (scores[i], -i))
