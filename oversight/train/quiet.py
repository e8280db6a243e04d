"""Keeping Hugging Face chatter off the user's terminal during training stages.

The pipeline prints one rich table; transformers' load reports ("head newly initialized" is
expected for every classifier), progress bars and the Trainer's printed log dicts would bury
it. Training metrics are kept in ``training.json`` and the TrainingRun row instead.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any


@contextlib.contextmanager
def quiet_hf() -> Iterator[None]:
    """Silence transformers' warnings and the transformers/datasets progress bars, then restore."""
    import datasets
    from transformers.utils import logging as hf_logging

    level, bars = hf_logging.get_verbosity(), hf_logging.is_progress_bar_enabled()
    data_bars = datasets.is_progress_bar_enabled()
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    datasets.disable_progress_bars()
    try:
        yield
    finally:
        hf_logging.set_verbosity(level)
        if bars:
            hf_logging.enable_progress_bar()
        if data_bars:
            datasets.enable_progress_bars()


def drop_printer(trainer: Any) -> None:
    """Remove the callback that prints every log dict to stdout when tqdm is disabled."""
    from transformers.trainer_callback import PrinterCallback

    trainer.remove_callback(PrinterCallback)
