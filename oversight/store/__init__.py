"""SQLModel tables and the Store API."""

from oversight.store.judges import JudgeEnsemble
from oversight.store.kinds import JudgeKind
from oversight.store.store import Store, StoreError, make_engine
from oversight.store.tables import (
    Candidate,
    Debate,
    Experiment,
    Judgment,
    Label,
    LabelSet,
    Question,
    TrainingRun,
    Turn,
)

__all__ = [
    "Candidate",
    "Debate",
    "Experiment",
    "JudgeEnsemble",
    "JudgeKind",
    "Judgment",
    "Label",
    "LabelSet",
    "Question",
    "Store",
    "StoreError",
    "TrainingRun",
    "Turn",
    "make_engine",
]
