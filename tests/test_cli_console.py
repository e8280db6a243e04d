"""Text in square brackets reaches the terminal: rich would otherwise read it as markup."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from oversight.cli import app
from oversight.cli_console import fail, report_failures


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
