"""Console output: text in square brackets reaches the terminal (rich would otherwise read it
as markup), and progress reaches a log file."""

from __future__ import annotations

import io

import pytest
from rich.console import Console
from typer.testing import CliRunner

from oversight import cli_console
from oversight.cli import app
from oversight.cli_console import LoggedProgress, fail, report_failures


def test_error_text_keeps_its_brackets(capsys: pytest.CaptureFixture[str]) -> None:
    exit_ = fail("pip install 'oversight[vllm]'; see the [w2s] table")
    report_failures({"d[1]": "CUDA error [bold]"})
    err = capsys.readouterr().err
    assert exit_.exit_code == 2
    assert "error: pip install 'oversight[vllm]'; see the [w2s] table" in err
    assert "failed d[1]: CUDA error [bold]" in err


@pytest.mark.parametrize(
    ("command", "shown"),
    [("pipeline", "[w2s] table"), ("replay", "[models.ALIAS] tables and [[judges]] entries")],
)
def test_help_keeps_table_names(command: str, shown: str) -> None:
    result = CliRunner().invoke(app, [command, "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    assert shown in result.output


def test_progress_off_a_terminal_writes_a_line_per_tenth(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """One line per tenth passed (a jump over several tenths is one line), one more after a
    minute without a line if the task moved, and none twice for the same state."""
    out = io.StringIO()
    clock = [1000.0]
    monkeypatch.setattr(cli_console.time, "monotonic", lambda: clock[0])
    bar = LoggedProgress(console=Console(file=out, force_terminal=False, width=200))
    task = bar.add_task("exp [v2]", total=None)
    bar.update(task, completed=0, total=None)  # no total yet: nothing to say
    for done in (0, 5, 10, 11, 19, 35, 35):
        bar.update(task, completed=done, total=50)
    clock[0] += 61.0
    bar.update(task, completed=36, total=50)  # a minute later, moved: a line
    clock[0] += 61.0
    bar.update(task, completed=36, total=50)  # a minute later, not moved: none
    bar.update(task, completed=50, total=50)
    lines = [line.split("exp [v2]: ", 1)[1].strip() for line in out.getvalue().splitlines()]
    # 11 (22%) is in the tenth of 10 (20%); 19 (38%) enters the next; 35 (70%) jumps four.
    assert lines == [
        "5/50 (10%)",
        "10/50 (20%)",
        "19/50 (38%)",
        "35/50 (70%)",
        "36/50 (72%)",
        "50/50 (100%)",
    ]


def test_progress_on_a_terminal_writes_no_lines() -> None:
    out = io.StringIO()
    console = Console(file=out, force_terminal=True, width=200)
    bar = LoggedProgress(console=console, auto_refresh=False)
    task = bar.add_task("exp", total=10)
    for done in range(11):
        bar.update(task, completed=done)
    assert "(100%)" not in out.getvalue()
