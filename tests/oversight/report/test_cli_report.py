"""`oversight report --out`: files written, and clear errors for bad input."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from oversight.cli import app
from tests.oversight.report.stores import TINY, build_tiny_store

runner = CliRunner()


def _db(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'tiny.db'}"
    build_tiny_store(url).close()
    return url


def test_report_out_writes_the_files(tmp_path: Path) -> None:
    out = tmp_path / "report"
    result = runner.invoke(app, ["report", TINY, "--db", _db(tmp_path), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert f"wrote {out / 'report.md'}" in result.output
    assert f"wrote {out / 'transcripts.html'}" in result.output
    assert sorted(p.name for p in (out / "plots").iterdir()) == [
        "accuracy_by_protocol.png",
        "accuracy_by_round.png",
        "reliability.png",
    ]
    assert (
        "| debate | ensemble (mean) | 2 | 0.375 | 0.141 | 1.000 |"
        in (out / "report.md").read_text()
    )


def test_without_out_the_summary_is_printed(tmp_path: Path) -> None:
    result = runner.invoke(app, ["report", TINY, "--db", _db(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "judge accuracy" in result.output and not (tmp_path / "report.md").exists()


def test_unknown_experiment_with_out(tmp_path: Path) -> None:
    out = tmp_path / "report"
    result = runner.invoke(app, ["report", "nope", "--db", _db(tmp_path), "--out", str(out)])
    assert result.exit_code == 2
    assert "no experiment named 'nope'" in result.output and "Traceback" not in result.output
    assert not out.exists()


def test_unwritable_out(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    result = runner.invoke(
        app, ["report", TINY, "--db", _db(tmp_path), "--out", str(blocker / "report")]
    )
    assert result.exit_code == 2
    assert "cannot write the report to" in result.output and "Traceback" not in result.output


def test_unknown_wins_by_group_with_out(tmp_path: Path) -> None:
    result = runner.invoke(
        app,
        ["report", TINY, "--db", _db(tmp_path), "--out", str(tmp_path / "r"), "--wins-by", "x"],
    )
    assert result.exit_code == 2 and "no judge group 'x'" in result.output
