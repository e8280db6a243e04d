"""Training: weak classifier judges, the strong student (w2s losses, TRL SFT / DPO), LoRA."""

from oversight.train.classifier import TrainedClassifier, load_classifier, train_classifier
from oversight.train.config import (
    LOSS_NAMES,
    ClassifierConfig,
    DPOStudentConfig,
    InputSettings,
    LoraSettings,
    LossName,
    SFTStudentConfig,
    TrainerSettings,
    WeakEnsembleConfig,
)
from oversight.train.debater_pairs import RewardedSpeech, debater_pairs, rewarded_speeches
from oversight.train.dpo import dpo_pairs, train_dpo
from oversight.train.inputs import (
    DebateView,
    choice_probs,
    ground_truth_examples,
    label_examples,
    prediction_texts,
)
from oversight.train.losses import logconf, make_loss, product, warmup_coefficient, xent
from oversight.train.sft import sft_examples, train_sft
from oversight.train.transcripts import debate_views
from oversight.train.weak_judges import (
    JudgeTarget,
    judge_debates,
    train_weak_member,
    trained_judge_id,
)

__all__ = [
    "LOSS_NAMES",
    "ClassifierConfig",
    "DPOStudentConfig",
    "DebateView",
    "InputSettings",
    "JudgeTarget",
    "LoraSettings",
    "LossName",
    "RewardedSpeech",
    "SFTStudentConfig",
    "TrainedClassifier",
    "TrainerSettings",
    "WeakEnsembleConfig",
    "choice_probs",
    "debate_views",
    "debater_pairs",
    "dpo_pairs",
    "ground_truth_examples",
    "judge_debates",
    "label_examples",
    "load_classifier",
    "logconf",
    "make_loss",
    "prediction_texts",
    "product",
    "rewarded_speeches",
    "sft_examples",
    "train_classifier",
    "train_dpo",
    "train_sft",
    "train_weak_member",
    "trained_judge_id",
    "warmup_coefficient",
    "xent",
]
