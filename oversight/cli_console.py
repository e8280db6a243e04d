"""Consoles and error printing shared by the ``oversight`` commands.

Rich parses ``[...]`` as markup, so text that comes from files, exceptions or users
(``[w2s]``, ``oversight[vllm]``) is escaped here before it is printed, or it would vanish.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

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


@contextlib.contextmanager
def progress() -> Iterator[Progress]:
    """The command's progress bar on stderr; Hugging Face load and download bars are silenced
    under it unless ``--verbose`` (they would interleave with it and with the final table)."""
    from oversight.train.quiet import quiet_hf

    verbose = logging.getLogger().isEnabledFor(logging.DEBUG)
    with (
        quiet_hf() if not verbose else contextlib.nullcontext(),
        Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=err_console,
        ) as bar,
    ):
        yield bar
