"""The weak / transfer / ceiling / PGR table rebuilt from stored runs, checked by hand."""

from __future__ import annotations

from pathlib import Path

import pytest

from oversight.report.training import pgr_rows, source_name
from oversight.store import Store
from tests.oversight.report.stores import build_w2s_store


def test_pgr_table_by_hand(tmp_path: Path) -> None:
    store = build_w2s_store(f"sqlite:///{tmp_path / 'w.db'}")
    exp = store.require_experiment("w")
    (row,) = pgr_rows(store, exp)
    assert row.source == "weak-ensemble"
    assert (row.questions, row.seeds) == (4, 2)  # seed 2 has no ceiling: left out
    assert row.weak == 0.5
    assert row.transfer == pytest.approx(0.875)  # (0.75 + 1.0) / 2
    assert row.ceiling == 1.0
    assert row.pgr == pytest.approx(0.75)  # (0.875 - 0.5) / (1 - 0.5)
    assert row.pgr_by_seed == [pytest.approx(0.5), pytest.approx(1.0)]
    # labels the students trained on: b0 right, b1 wrong (b2 is validation)
    assert (row.labels, row.label_accuracy, row.label_confidence) == (
        2,
        0.5,
        pytest.approx(0.7),
    )


def test_no_runs_no_table(tiny_store: Store) -> None:
    assert pgr_rows(tiny_store, tiny_store.require_experiment("tiny")) == []


def test_source_names() -> None:
    assert source_name("w/labels/weak-ensemble-debate-1a2b3c4d", "w") == "weak-ensemble-debate"
    assert source_name("other/mean/all/abc", "w") == "other/mean/all/abc"
