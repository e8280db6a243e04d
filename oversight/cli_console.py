"""Consoles and error printing shared by the ``oversight`` commands.

Rich parses ``[...]`` as markup, so text that comes from files, exceptions or users
(``[w2s]``, ``oversight[vllm]``) is escaped here before it is printed, or it would vanish.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer
from pydantic import BaseModel
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)

from oversight.config import STORE_PRECEDENCE, ConfigError, resolve_store_url, validate_as
from oversight.store import Store, StoreError
from oversight.store.store import mask_secrets

if TYPE_CHECKING:
    from oversight.config import ExperimentConfig
    from oversight.run_plan import RunPlan, TimeEstimate

console = Console()
err_console = Console(stderr=True)

DbOption = Annotated[
    str | None,
    typer.Option(
        "--db",
        help=f"SQLAlchemy URL of the Store. Precedence: {STORE_PRECEDENCE}.",
    ),
]

M = TypeVar("M", bound=BaseModel)


def open_store(db: str | None, config_store: str | None = None, *, create: bool = True) -> Store:
    """The Store a command uses, by the one precedence of every command; read-only commands
    pass ``create=False`` so a mistyped SQLite path is an error, not a new empty store."""
    try:
        return Store(resolve_store_url(db, config_store), create=create)
    except StoreError as err:
        raise fail(str(err)) from None


def time_estimate(cfg: ExperimentConfig, plan: RunPlan, db: str | None) -> TimeEstimate | None:
    """The plan's time from an existing store's history; None where no store exists yet.

    The store is opened as read-only commands open it (a missing SQLite file is not created)."""
    from oversight.run_plan import estimate_time

    try:
        store = Store(resolve_store_url(db, cfg.store), create=False)
    except StoreError:
        return None
    try:
        return estimate_time(cfg, plan, store.generation_history())
    finally:
        store.close()


def time_json(estimate: TimeEstimate | None) -> dict[str, Any] | None:
    """The estimate as ``--dry-run --json`` prints it (``"time"``), with its rule."""
    from dataclasses import asdict

    from oversight.run_plan import TIME_RULE

    return None if estimate is None else asdict(estimate) | {"time_rule": TIME_RULE}


def print_time_estimate(estimate: TimeEstimate | None) -> None:
    """The dry run's time line(s), with the rule they follow."""
    from oversight.run_plan import TIME_RULE

    if estimate is None:
        console.print("time: not estimated (no store to read a generation history from)")
        return
    if estimate.tokens_per_s:
        rates = ", ".join(f"{escape(m)} {r:.1f} tokens/s" for m, r in estimate.tokens_per_s.items())
        console.print(f"estimated time: about {estimate.seconds / 60:.1f} min ({rates})")
        console.print(TIME_RULE)
    if estimate.unestimated:
        names = ", ".join(escape(p) for p in estimate.unestimated)
        console.print(f"time: not estimated for {names} (their models have no stored turns)")


def with_overrides(cfg: M, source: str, **updates: Any) -> M:
    """``cfg`` with command-line values, validated exactly as the config file was.

    Keys are dotted field paths (``data.limit``); ``None`` values are left out.
    """
    data = cfg.model_dump(mode="python")
    given = {k: v for k, v in updates.items() if v is not None}
    if not given:
        return cfg
    for path, value in given.items():
        node = data
        *parents, leaf = path.split(".")
        for key in parents:
            node = node[key]
        node[leaf] = value
    try:
        return validate_as(type(cfg), data, source)
    except ConfigError as err:
        raise fail(str(err)) from None


class MaskSecrets(logging.Filter):
    """Masks the password of every URL in a log record before a handler writes it: the last
    guard behind the sources that mask their own messages (a library may log a URL)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = mask_secrets(message)
        if masked != message:
            record.msg, record.args = masked, None
        return True


def fail(message: str) -> typer.Exit:
    """Print ``error: MESSAGE`` to stderr (passwords in URLs masked); the caller raises the
    returned exit (code 2)."""
    err_console.print(
        f"[bold red]error:[/] {escape(mask_secrets(message))}", highlight=False, soft_wrap=True
    )
    return typer.Exit(code=2)


def report_failures(errors: dict[str, str], limit: int = 5) -> None:
    """Print the first ``limit`` per-debate failures, one line each."""
    for did, msg in list(errors.items())[:limit]:
        err_console.print(f"  failed {escape(did)}: {escape(mask_secrets(msg))}", highlight=False)


class LoggedProgress(Progress):
    """A progress bar that, where its console is not a terminal (a log file, CI, ``nohup``),
    writes a line each time a task passes another tenth of its total, after a minute with
    no line if it moved, and when it finishes: rich draws the bar only on a terminal, so a
    long run sent to a file would otherwise say nothing until it ends."""

    STEP = 0.1
    EVERY_S = 60.0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._logged: dict[TaskID, tuple[float, float]] = {}

    def update(self, task_id: TaskID, **kwargs: Any) -> None:  # type: ignore[override]
        super().update(task_id, **kwargs)
        if self.console.is_terminal:
            return
        task = next(t for t in self.tasks if t.id == task_id)
        if not task.total:
            return
        done = min(task.completed / task.total, 1.0)
        now = time.monotonic()
        last, at = self._logged.get(task_id, (0.0, now))
        step = int(done / self.STEP + 1e-9) > int(last / self.STEP + 1e-9)
        if step or (done > last and now - at >= self.EVERY_S) or (done == 1.0 > last):
            self._logged[task_id] = (done, now)
            self.console.print(
                f"{time.strftime('%H:%M:%S')} {task.description}: "
                f"{task.completed:,.0f}/{task.total:,.0f} ({100 * done:.0f}%)",
                markup=False,
                highlight=False,
            )
        else:
            self._logged.setdefault(task_id, (last, at))


@contextlib.contextmanager
def progress() -> Iterator[Progress]:
    """The command's progress bar on stderr; Hugging Face load and download bars are silenced
    under it unless ``--verbose`` (they would interleave with it and with the final table)."""
    from oversight.train.quiet import quiet_hf

    verbose = logging.getLogger().isEnabledFor(logging.DEBUG)
    with (
        quiet_hf() if not verbose else contextlib.nullcontext(),
        LoggedProgress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=err_console,
        ) as bar,
    ):
        yield bar
