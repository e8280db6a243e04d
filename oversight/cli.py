"""The ``oversight`` command."""

from __future__ import annotations

import asyncio
import json
import logging
import math
import os
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.logging import RichHandler
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from oversight.config import DEFAULT_STORE, ConfigError, load_config
from oversight.data import DataError
from oversight.store import Experiment, Store, StoreError, Turn

app = typer.Typer(add_completion=False, no_args_is_help=True, help=__doc__)
console = Console()
err_console = Console(stderr=True)

DbOption = Annotated[
    str | None,
    typer.Option("--db", help="SQLAlchemy URL of the Store (default: the config's, else "
                 f"$OVERSIGHT_DB or {DEFAULT_STORE})."),
]


def _db(url: str | None, fallback: str | None = None) -> str:
    return url or fallback or os.environ.get("OVERSIGHT_DB") or DEFAULT_STORE


def _fail(message: str) -> typer.Exit:
    err_console.print(f"[bold red]error:[/] {message}", highlight=False)
    return typer.Exit(code=2)


@app.callback()
def main(verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False) -> None:
    """Debate experiments, weak judges and weak-to-strong training."""
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.WARNING,
        format="%(message)s",
        handlers=[RichHandler(console=err_console, show_path=False)],
    )


@app.command()
def run(
    config: Annotated[Path, typer.Argument(help="Experiment TOML file.")],
    db: DbOption = None,
    limit: Annotated[int | None, typer.Option(help="Number of questions.")] = None,
    concurrency: Annotated[int | None, typer.Option(help="Debates in flight at once.")] = None,
) -> None:
    """Run (or resume) an experiment: debates, consultancies and direct QA, then judges."""
    from oversight.runner import Runner

    try:
        cfg = load_config(config)
    except ConfigError as err:
        raise _fail(str(err)) from None
    if limit is not None:
        cfg.data.limit = limit
    if concurrency is not None:
        cfg.concurrency = concurrency
    store = Store(_db(db, cfg.store if db is None else None))
    runner = Runner(cfg, store)
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err_console,
        transient=False,
    ) as progress:
        task = progress.add_task(cfg.name, total=None)

        def update(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        try:
            summary = asyncio.run(runner.run(update))
        except (DataError, StoreError, ConfigError) as err:
            raise _fail(str(err)) from None
    console.print(
        f"[bold]{summary.experiment}[/]: {summary.questions} questions, {summary.planned} "
        f"debates planned, {summary.ran} run, {summary.completed} completed, "
        f"{summary.failed} failed"
    )
    for did, msg in list(summary.errors.items())[:5]:
        err_console.print(f"  failed {did}: {msg}", highlight=False)
    if summary.failed:
        raise typer.Exit(code=1)


@app.command()
def status(
    db: DbOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Per experiment: questions, debates by status, turns and judgments."""
    store = Store(_db(db))
    rows = []
    for exp in store.all(Experiment, order_by=Experiment.created):
        debates = store.debates(exp.id or 0)
        ids = [d.id for d in debates]
        by_status: dict[str, int] = {}
        for d in debates:
            by_status[d.status] = by_status.get(d.status, 0) + 1
        turns = sum(store.count(Turn, Turn.debate_id.in_(ids[i : i + 500]))  # type: ignore[attr-defined]
                    for i in range(0, len(ids), 500))
        rows.append(
            {
                "experiment": exp.name,
                "questions": len({d.question_id for d in debates}),
                "debates": by_status,
                "turns": turns,
                "judgments": len(store.judgments(ids)),
                "created": exp.created.isoformat(),
            }
        )
    if as_json:
        console.print_json(json.dumps(rows))
        return
    table = Table(title=f"Store {store.url}")
    for col in ("experiment", "questions", "debates", "turns", "judgments"):
        table.add_column(col)
    for r in rows:
        table.add_row(
            r["experiment"],
            str(r["questions"]),
            ", ".join(f"{k} {v}" for k, v in sorted(r["debates"].items())),
            str(r["turns"]),
            str(r["judgments"]),
        )
    console.print(table)


def _pct(x: float) -> str:
    return "n/a" if math.isnan(x) else f"{100 * x:.1f}"


@app.command()
def report(
    experiment: Annotated[str, typer.Argument(help="Experiment name.")],
    db: DbOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Judge accuracy per protocol (95% bootstrap CI), debater win rates, judge confidence."""
    from oversight.report import ENSEMBLE, experiment_summary

    store = Store(_db(db))
    try:
        summary = experiment_summary(store, experiment)
    except StoreError as err:
        raise _fail(str(err)) from None
    if as_json:
        console.print_json(json.dumps(_json_safe(summary)))
        return
    table = Table(title=f"{experiment}: judge accuracy (%) per protocol, 95% bootstrap CI")
    for col in ("protocol", "judge", "debates", "questions", "accuracy", "95% CI", "confidence"):
        table.add_column(col, justify="right" if col not in ("protocol", "judge") else "left")
    for r in summary["judges"]:
        style = "bold" if r["judge"] == ENSEMBLE else None
        table.add_row(
            r["protocol"], r["judge"], str(r["debates"]), str(r["questions"]), _pct(r["accuracy"]),
            f"[{_pct(r['ci_low'])}, {_pct(r['ci_high'])}]", _pct(r["confidence"]), style=style,
        )
    console.print(table)
    if summary["wins"]:
        wins = Table(title="Win rate (%) by side argued, judged by the ensemble mean")
        for col in ("protocol", "speaker", "argued", "debates", "win rate"):
            wins.add_column(col)
        for w in summary["wins"]:
            wins.add_row(w["protocol"], w["speaker"], w["argued"], str(w["debates"]),
                         _pct(w["win_rate"]))
        console.print(wins)
    pending = {k: v for k, v in summary["debates"].items() if k != "complete"}
    if pending:
        err_console.print(f"not complete: {pending}")


def _json_safe(x: Any) -> Any:
    """NaN (an undefined metric) becomes null, so the output is valid JSON."""
    if isinstance(x, float) and math.isnan(x):
        return None
    if isinstance(x, dict):
        return {k: _json_safe(v) for k, v in x.items()}
    if isinstance(x, list):
        return [_json_safe(v) for v in x]
    return x

if __name__ == "__main__":  # pragma: no cover
    sys.exit(app())
