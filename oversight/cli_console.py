"""Consoles and error printing shared by the ``oversight`` commands.

Rich parses ``[...]`` as markup, so text that comes from files, exceptions or users
(``[w2s]``, ``oversight[vllm]``) is escaped here before it is printed, or it would vanish.
"""

from __future__ import annotations

import typer
from rich.console import Console
from rich.markup import escape

console = Console()
err_console = Console(stderr=True)


def fail(message: str) -> typer.Exit:
    """Print ``error: MESSAGE`` to stderr; the caller raises the returned exit (code 2)."""
    err_console.print(f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)
    return typer.Exit(code=2)


def report_failures(errors: dict[str, str], limit: int = 5) -> None:
    """Print the first ``limit`` per-debate failures, one line each."""
    for did, msg in list(errors.items())[:limit]:
        err_console.print(f"  failed {escape(did)}: {escape(msg)}", highlight=False)
