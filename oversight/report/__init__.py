"""Reports: tables of judge accuracy and win rates."""

from oversight.report.summary import (
    ENSEMBLE,
    JudgeRow,
    WinRow,
    experiment_summary,
    judge_rows,
    win_rows,
)

__all__ = ["ENSEMBLE", "JudgeRow", "WinRow", "experiment_summary", "judge_rows", "win_rows"]
