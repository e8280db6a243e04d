"""write_report: report.md with hand-checked numbers and their rules, plots, the page."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from oversight.report.markdown import cell
from oversight.report.position import POSITION_RULES
from oversight.report.write import ReportError, write_report
from oversight.store import Store, StoreError
from tests.oversight.report.stores import TINY, build_w2s_store


def _png_size(path: Path) -> tuple[int, int]:
    head = path.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", head[16:24])


def test_report_files_and_numbers(tiny_store: Store, tmp_path: Path) -> None:
    out = tmp_path / "out"
    written = write_report(tiny_store, TINY, out)
    assert [p.name for p in written.plots] == [
        "accuracy_by_protocol.png",
        "accuracy_by_round.png",
        "reliability.png",
    ]  # no training runs: no PGR plot
    for png in written.plots:
        width, height = _png_size(png)
        assert width >= 600 and height >= 400 and png.stat().st_size < 200_000
    md = written.markdown.read_text()
    # accuracy: the ensemble is right on d0 and d1 (bold: its members stand above it)
    assert "| **debate** | **ensemble (mean)** | **prompted** | **2** | **2** | **100.0** |" in md
    # calibration, worked out in test_numbers
    assert "| debate | ensemble (mean) | 2 | 0.375 | 0.141 | 1.000 |" in md
    assert "| consultancy | ensemble (mean) | 2 | 0.600 | 0.370 | 0.125 |" in md
    assert "| debate | human (live) | 2 | 0.150 | 0.025 | 1.000 |" in md
    # position bias: a +10.0, b -5.0, pooled +2.5 pp; the replay +40.0 with every order split
    assert "| debate | ensemble (mean) | a | 2 | 50.0 | +10.0 |" in md
    assert "| debate | ensemble (mean) | b | 2 | 50.0 | -5.0 |" in md
    assert (
        "| **debate** | **ensemble (mean)** | **ensemble (mean)** | **4** | **50.0** | **+2.5** |"
        in md
    )
    assert "| debate | ensemble new | c | 2 | 100.0 | +40.0 |" in md
    # beliefs by round: 0.5, then 0.55 [0.4, 0.7], then 0.9 on d0 alone
    assert "| debate | human (live) | 1 | 2 | 2 | 55.0 | [40.0, 70.0] | 50.0 |" in md
    assert "| debate | human (live) | 2 | 1 | 1 | 90.0 | [90.0, 90.0] | 100.0 |" in md
    # every section states its rules
    assert "P(correct) exactly 0.5 is a tie: counted as not correct" in md
    assert "ECE: 10 equal-width confidence bins" in md and POSITION_RULES in md
    assert "debates that ended earlier are absent from later points" in md
    assert "## Weak-to-strong" not in md
    assert "![Reliability diagram](plots/reliability.png)" in md
    page = written.transcripts.read_text()
    assert page.startswith("<!DOCTYPE html>") and "Transcripts: tiny" in page


def test_ties_half_reaches_every_section(tiny_store: Store, tmp_path: Path) -> None:
    md = write_report(tiny_store, TINY, tmp_path, ties="half").markdown.read_text()
    assert "exactly 0.5 is a tie: counted as half" in md
    assert "| consultancy | ensemble (mean) | 2 | 0.350 | 0.370 | 0.125 |" in md


def test_weak_to_strong_table_and_plot(tmp_path: Path) -> None:
    store = build_w2s_store(f"sqlite:///{tmp_path / 'w.db'}")
    written = write_report(store, "w", tmp_path / "out")
    md = written.markdown.read_text()
    assert "## Weak-to-strong" in md and "4 test questions, 2 student seeds." in md
    row = next(line for line in md.splitlines() if line.startswith("| weak-ensemble |"))
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert cells[:3] == ["weak-ensemble", "2", "50.0"]
    assert cells[3].startswith("50.0 ") and cells[4].startswith("87.5 ")
    assert cells[5].startswith("100.0 ") and cells[6].startswith("75.0")
    assert cells[7] == "50.0, 100.0"
    assert "PGR = (transfer - weak) / (ceiling - weak)" in md
    assert (tmp_path / "out" / "plots" / "pgr_by_source.png").is_file()


def test_bad_output_folder_is_a_clear_error(tiny_store: Store, tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    with pytest.raises(ReportError, match=f"cannot write the report to {blocker / 'sub'}"):
        write_report(tiny_store, TINY, blocker / "sub")


def test_unknown_experiment_writes_nothing(tiny_store: Store, tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="no experiment named 'nope'"):
        write_report(tiny_store, "nope", tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_table_cells_stay_one_cell_of_text() -> None:
    assert cell("a|b\n<script>&_*") == "a\\|b &lt;script&gt;&amp;\\_\\*"
