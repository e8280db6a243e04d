"""Weak judges that learn: small classifiers fine-tuned on ground truth, then judging debates.

These are the weak supervisors of Lang, Huang & Li 2025: each ensemble member is trained on
the answer key of the weak split (optionally reading a debate transcript of the question) and
then gives its verdict on the labelling split's debates. Verdicts are stored as ordinary
``Judgment`` rows of kind ``trained`` (judge id ``trained:<run name>``), so labels treat a
trained judge like any other, while reports keep trained and prompted judges apart by kind.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from oversight.backends.base import Backend
from oversight.judging import JudgeVerdict, judgment_row
from oversight.store.judges import FINAL_VERDICT
from oversight.store.kinds import TRAINED_PREFIX, JudgeKind
from oversight.store.tables import Judgment, Question, Turn
from oversight.train.classifier import TrainedClassifier, train_classifier
from oversight.train.config import WeakEnsembleConfig
from oversight.train.inputs import (
    DebateView,
    choice_probs,
    ground_truth_examples,
    prediction_texts,
    question_row,
)


def trained_judge_id(run_name: str) -> str:
    """The judge id under which a trained classifier's verdicts are stored."""
    return f"{TRAINED_PREFIX}{run_name}"


@dataclass(frozen=True)
class JudgeTarget:
    """One debate to judge: its question and, for transcript-reading judges, its turns."""

    debate_id: str
    question_id: str
    view: DebateView | None = None


def train_weak_member(
    config: WeakEnsembleConfig,
    questions: Sequence[Question],
    output_dir: Path,
    seed: int,
    views: Mapping[str, Sequence[DebateView]] | None = None,
) -> TrainedClassifier:
    """Fine-tune one member on the answer key of ``questions`` (the weak split only).

    ``seed`` sets the initialisation, the data order and, with transcripts, which of a
    question's debates the member reads: the sources of diversity in the ensemble.
    """
    examples = ground_truth_examples(questions, config.inputs, views, seed=seed)
    return train_classifier(config, examples, output_dir, seed)


@dataclass(frozen=True)
class ClassifierJudge:
    """A trained classifier as a :class:`~oversight.judging.Judge` of kind ``trained``.

    It reads the question without its answer key (``question_row``) and, if it was trained
    with one, the debate's transcript; both candidates are scored and combined by
    ``choice_probs``. It runs its own model, so the backend it is handed is not used.
    """

    classifier: TrainedClassifier
    judge_id: str
    kind: JudgeKind = JudgeKind.TRAINED

    @property
    def name(self) -> str:
        return self.judge_id.removeprefix(TRAINED_PREFIX)

    @property
    def model(self) -> str:
        return self.classifier.config.model

    def verdicts(
        self, questions: Mapping[str, Question], targets: Sequence[JudgeTarget]
    ) -> list[JudgeVerdict]:
        """Verdicts on many debates in one batched prediction."""
        texts: list[str] = []
        for t in targets:
            view = t.view if self.classifier.config.inputs.transcript else None
            row = question_row(questions[t.question_id])
            texts += prediction_texts(row, self.classifier.config.inputs, view)
        scores = self.classifier.predict(texts)
        out = []
        for i in range(len(targets)):
            p = [float(scores[2 * i]), float(scores[2 * i + 1])]
            out.append(
                JudgeVerdict(
                    probs=choice_probs(p), probs_by_order={}, raw={"p_candidate_correct": p}
                )
            )
        return out

    async def judge(
        self,
        backend: Backend | None,
        question: Question,
        turns: Sequence[Turn],
        assignment: dict[str, int],
    ) -> JudgeVerdict:
        view = DebateView("", question.id, dict(assignment), tuple(turns))
        (verdict,) = self.verdicts({question.id: question}, [JudgeTarget("", question.id, view)])
        return verdict


def judge_debates(
    judge: TrainedClassifier,
    judge_id: str,
    questions: Mapping[str, Question],
    targets: Sequence[JudgeTarget],
) -> list[Judgment]:
    """A final verdict per debate by the classifier as a :class:`ClassifierJudge`."""
    as_judge = ClassifierJudge(judge, judge_id)
    verdicts = as_judge.verdicts(questions, targets)
    return [
        judgment_row(as_judge, t.debate_id, FINAL_VERDICT, v)
        for t, v in zip(targets, verdicts, strict=True)
    ]
