"""``oversight tournament``: debater variants against each other, rated, beside judge accuracy."""

from __future__ import annotations

import asyncio
import json
import math
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from oversight.cli_console import (
    DbOption,
    console,
    err_console,
    fail,
    open_store,
    progress,
    report_failures,
)
from oversight.config import ConfigError
from oversight.store import StoreError


def _pct(x: float) -> str:
    return "n/a" if math.isnan(x) else f"{100 * x:.1f}"


def tournament(
    config: Annotated[Path, typer.Argument(help="Tournament TOML file.")],
    db: DbOption = None,
    out: Annotated[
        Path | None,
        typer.Option(help="Folder for tournament.json and the plot (default runs/NAME)."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the results as JSON.")] = False,
) -> None:
    """Play debater variants against each other in both seats, rate them (Elo, Bradley-Terry)
    and show judge accuracy per matchup against the debaters' rating.

    Resumable: a rerun plays only the games not yet stored.
    """
    from agents.judge import build_judges
    from oversight.backends.base import BackendStartError
    from oversight.data.errors import DataError
    from oversight.report.plots import accuracy_vs_rating
    from oversight.runner import Runner
    from oversight.tournament import games_of, load_tournament_config

    try:
        cfg = load_tournament_config(config)
        build_judges(cfg.judges, cfg.models, source=f"{config}: judges")
    except ConfigError as err:
        raise fail(str(err)) from None
    store = open_store(db, cfg.store)
    with progress() as bar:
        task = bar.add_task(cfg.name, total=None)

        def update(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        try:
            summary = asyncio.run(Runner(cfg, store).run(update))
        except (DataError, StoreError, ConfigError, BackendStartError) as err:
            raise fail(str(err)) from None
    report_failures(summary.errors)
    result = games_of(store, cfg)
    folder = out or Path("runs") / cfg.name
    try:
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "tournament.json").write_text(json.dumps(result.as_json(), indent=1))
        plot = accuracy_vs_rating(
            result.matchups, folder / "accuracy_vs_rating.png", f"{cfg.name}: judge accuracy"
        )
    except OSError as err:
        raise fail(f"cannot write {folder}: {err.strerror or err}") from None
    if as_json:
        console.print_json(json.dumps(result.as_json()))
        return
    if result.ratings is not None:
        table = Table(title=f"{escape(cfg.name)}: ratings (Elo), 95% CI", title_justify="left")
        for col in ("variant", "rating", "95% CI", "games", "mean score"):
            table.add_column(col, justify="left" if col == "variant" else "right")
        for r in result.ratings.ratings:
            table.add_row(
                escape(r.player),
                f"{r.rating:.0f}",
                f"{r.lower:.0f}-{r.upper:.0f}",
                f"{r.games:g}",
                f"{r.score:.3f}",
            )
        console.print(table)
    table = Table(
        title=f"Judge accuracy (%) per matchup, judged by {escape(str(result.judged_by))}",
        title_justify="left",
    )
    for col in ("matchup", "debates", "qs", "acc", "95% CI", "ties", "rating"):
        table.add_column(col, justify="left" if col == "matchup" else "right")
    for m in result.matchups:
        table.add_row(
            escape(m.matchup),
            str(m.debates),
            str(m.questions),
            _pct(m.accuracy),
            f"{_pct(m.ci_low)}-{_pct(m.ci_high)}",
            str(m.ties),
            "n/a" if math.isnan(m.rating) else f"{m.rating:.0f}",
        )
    console.print(table)
    for key, rule in result.rules.items():
        console.print(f"{key}: {escape(rule)}", highlight=False)
    console.print(f"{summary.ran} debates run now; {len(result.games)} games; plot {plot}")
    if summary.failed:
        err_console.print(f"{summary.failed} debates failed: see `oversight status --failures`")
        raise typer.Exit(code=1)
