"""PGR rows from per-question correctness, and the table the pipeline prints."""

from __future__ import annotations

import math

import pytest
from rich.console import Console

from oversight.report.w2s import pgr_row, pgr_table


def test_pgr_row_by_hand() -> None:
    weak = [1, 0, 0, 0]  # 0.25
    transfer = [[1, 1, 0, 0], [1, 0, 1, 0]]  # 0.5 on each seed
    ceiling = [[1, 1, 1, 0], [1, 1, 1, 1]]  # 0.75 and 1.0
    row = pgr_row("weak ensemble", weak, transfer, ceiling, n_resamples=500, labels=7)
    assert (row.weak, row.transfer, row.ceiling) == (0.25, 0.5, 0.875)
    assert row.pgr == pytest.approx((0.5 - 0.25) / (0.875 - 0.25))
    # per seed: the seed's own transfer against the seed's own ceiling
    assert row.pgr_by_seed == pytest.approx([0.25 / 0.5, 0.25 / 0.75])
    for value, (lo, hi) in [
        (row.weak, row.weak_ci),
        (row.transfer, row.transfer_ci),
        (row.ceiling, row.ceiling_ci),
    ]:
        assert 0.0 <= lo <= value <= hi <= 1.0
    assert (row.questions, row.seeds, row.labels) == (4, 2, 7)


def test_pgr_is_undefined_where_the_ceiling_does_not_beat_weak() -> None:
    row = pgr_row("single weak model", [1, 1, 0, 0], [[1, 0, 0, 0]], [[1, 1, 0, 0]])
    assert math.isnan(row.pgr) and all(math.isnan(x) for x in row.pgr_ci)
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
    pgr_line = next(line for line in text.splitlines() if line.startswith("│ PGR "))
    assert "n/a" in pgr_line and "50.0" in pgr_line  # weak ensemble undefined; (75-50)/(100-50)
