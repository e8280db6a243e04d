"""PGR rows from per-question correctness, and the table the pipeline prints."""

from __future__ import annotations

import math

import numpy as np
import pytest
from rich.console import Console

from oversight.report.w2s import PGRRow, pgr_row, pgr_table


def test_pgr_row_by_hand() -> None:
    weak = [1, 0, 0, 0]  # 0.25
    transfer = [[1, 1, 0, 0], [1, 0, 1, 0]]  # 0.5 on each seed
    ceiling = [[1, 1, 1, 0], [1, 1, 1, 1]]  # 0.75 and 1.0
    row = pgr_row("weak ensemble", weak, transfer, ceiling, n_resamples=500, labels=7)
    assert (row.weak, row.transfer, row.ceiling) == (0.25, 0.5, 0.875)
    assert row.pgr == pytest.approx((0.5 - 0.25) / (0.875 - 0.25))
    # per seed: the seed's own transfer against the seed's own ceiling
    assert row.pgr_by_seed == pytest.approx([0.25 / 0.5, 0.25 / 0.75])
    # weak: the mean of 4 draws from [1, 0, 0, 0] is 0 with probability (3/4)^4 = 32%, so the
    # 2.5% point is 0; it is 1 with probability 1/256 < 2.5% < 13/256 = P(>= 0.75)
    assert row.weak_ci == (0.0, 0.75)
    # ceiling, per question over seeds [1, 1, 1, 0.5]: P(question 4 drawn >= 3 times) = 5.1%
    # and P(4 times) = 0.4%, so 2.5% falls on 3 draws, 1 - 3 * 0.5 / 4; the top is 1.0
    assert row.ceiling_ci == (0.625, 1.0)
    assert (row.questions, row.seeds, row.labels) == (4, 2, 7)
    assert (row.pgr_resamples, row.pgr_dropped) == (500, 0)  # the ceiling is never behind


def test_pgr_interval_counts_the_resamples_it_drops() -> None:
    # per question, ceiling - weak is [-1, 1, 1]: a resample has a gap unless question 0 is
    # drawn at least twice of three times, with probability 7/27
    row = pgr_row("x", [1, 0, 0], [[0, 1, 0]], [[0, 1, 1]], n_resamples=2000, seed=0)
    assert row.pgr == 0.0  # (1/3 - 1/3) / (2/3 - 1/3)
    draws = np.random.default_rng(0).integers(0, 3, size=(2000, 3))
    expected = int(((draws == 0).sum(axis=1) >= 2).sum())
    assert row.pgr_dropped == expected and abs(expected / 2000 - 7 / 27) < 0.03
    assert row.pgr_resamples == 2000 and row.pgr_ci == (-1.0, 1.0)
    assert row.as_json()["pgr_dropped"] == expected


def test_pgr_is_undefined_where_the_ceiling_does_not_beat_weak() -> None:
    row = pgr_row("single weak model", [1, 1, 0, 0], [[1, 0, 0, 0]], [[1, 1, 0, 0]])
    assert math.isnan(row.pgr) and all(math.isnan(x) for x in row.pgr_ci)
    assert row.pgr_dropped == row.pgr_resamples == 2000  # ceiling == weak on every resample
    assert row.as_json()["pgr"] is None


def test_seeds_must_match() -> None:
    with pytest.raises(ValueError, match="same seeds"):
        pgr_row("x", [1, 0], [[1, 0], [0, 1]], [[1, 1]])


def test_table_fits_80_columns_and_names_every_source() -> None:
    rows = [
        pgr_row("single weak model", [1, 0, 0, 1], [[1, 1, 0, 1]], [[1, 1, 1, 1]]),
        pgr_row("weak ensemble", [1, 1, 0, 0], [[1, 0, 0, 0]], [[1, 1, 0, 0]]),
        pgr_row("weak ensemble + debate", [0, 0, 0, 1], [[1, 0, 0, 1]], [[1, 1, 0, 1]]),
    ]
    console = Console(width=80, record=True)
    console.print(pgr_table(rows, "t"))
    text = console.export_text()
    assert "…" not in text
    for name in ("single weak", "weak ensemble", "debate", "transfer acc", "PGR per seed"):
        assert name in text
    pgr_line = next(line for line in text.splitlines() if line.startswith("│ PGR  "))
    assert "n/a" in pgr_line and "50.0" in pgr_line  # weak ensemble undefined; (75-50)/(100-50)
    drops = next(line for line in text.splitlines() if line.startswith("│ PGR CI drops"))
    assert [c.strip() for c in drops.split("│")[2:5]] == [f"{r.pgr_dropped} / 2000" for r in rows]
    words = " ".join(text.split())
    for rule in (
        "PGR interval: 2.5-97.5% percentiles of the resamples where the ceiling beats the weak",
        "Label ties: top probabilities exactly equal (no tolerance)",
        "a seeded coin per question",
        "exactly 0.5 on the correct answer counts as wrong",
    ):
        assert rule in words


def test_table_shows_validation_and_tie_counts() -> None:
    row = pgr_row(
        "weak ensemble",
        [1, 0],
        [[1, 1]],
        [[1, 1]],
        label_ties=3,
        validation=9,
        transfer_val=5 / 9,
        ceiling_val=7 / 9,
        labels=36,
    )
    text = _render([row])
    cells = {
        line.split("│")[1].strip(): line.split("│")[2].strip()
        for line in text.splitlines()
        if line.startswith("│")
    }
    assert cells["label ties (B)"] == "3" and cells["labels (B)"] == "36"
    assert cells["transfer val"] == "55.6" and cells["ceiling val"] == "77.8"
    assert "less its 9 validation questions" in " ".join(text.split())


def _render(rows: list[PGRRow]) -> str:
    console = Console(width=80, record=True)
    console.print(pgr_table(rows, "t"))
    return console.export_text()
