"""Question sources -> Question records, and binarization as in openai/weak-to-strong."""

from oversight.data.binarize import binarize, binarize_question
from oversight.data.errors import DataError
from oversight.data.paths import shared_data_dir
from oversight.data.records import make_question, question_id
from oversight.data.registry import available_sources, load_questions

__all__ = [
    "DataError",
    "available_sources",
    "binarize",
    "binarize_question",
    "load_questions",
    "make_question",
    "question_id",
    "shared_data_dir",
]
