"""The ``oversight`` command."""

from __future__ import annotations

import asyncio
import json
import logging
import math
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.logging import RichHandler
from rich.markup import escape
from rich.table import Table

from agents.judge import build_judges
from oversight.backends.base import BackendStartError
from oversight.cli_console import (
    DbOption,
    MaskSecrets,
    console,
    err_console,
    fail,
    open_store,
    print_time_estimate,
    progress,
    report_failures,
    time_estimate,
    time_json,
    with_overrides,
)
from oversight.config import ConfigError, ExperimentConfig, load_config
from oversight.data import DataError
from oversight.metrics import TIE_RULES
from oversight.store import Experiment, StoreError

app = typer.Typer(add_completion=False, no_args_is_help=True, help=__doc__)


@app.callback()
def main(verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False) -> None:
    """Debate experiments, weak judges and weak-to-strong training."""
    handler = RichHandler(console=err_console, show_path=False)
    handler.addFilter(MaskSecrets())
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.WARNING,
        format="%(message)s",
        handlers=[handler],
    )


@app.command()
def run(
    config: Annotated[Path, typer.Argument(help="Experiment TOML file.")],
    db: DbOption = None,
    limit: Annotated[int | None, typer.Option(help="Number of questions.")] = None,
    concurrency: Annotated[int | None, typer.Option(help="Debates in flight at once.")] = None,
    retry_failed: Annotated[
        bool,
        typer.Option("--retry-failed", help="Also run again the debates that failed before."),
    ] = False,
    dry_run: Annotated[
        bool,
        typer.Option(
            "--dry-run",
            help="Load the questions and print the plan (debates, speeches, judgments, "
            "estimated tokens) without loading a model or writing anything.",
        ),
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="With --dry-run: print JSON.")] = False,
) -> None:
    """Run (or resume) an experiment: debates, consultancies and direct QA, then judges.

    A rerun finishes what is missing. Debates that failed stay failed (their reasons are in
    `oversight status --failures`) unless --retry-failed is given.
    """
    from oversight.runner import Runner

    try:
        cfg = load_config(config)
        build_judges(cfg.judges, cfg.models, source=f"{config}: judges")  # templates, now
    except ConfigError as err:
        raise fail(str(err)) from None
    cfg = with_overrides(cfg, "command line", **{"data.limit": limit, "concurrency": concurrency})
    if dry_run:
        _print_run_plan(cfg, config, as_json, db)
        return
    store = open_store(db, cfg.store)
    runner = Runner(cfg, store)
    with progress() as bar:
        task = bar.add_task(cfg.name, total=None)

        def update(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        try:
            summary = asyncio.run(runner.run(update, retry_failed=retry_failed))
        except (DataError, StoreError, ConfigError, BackendStartError) as err:
            raise fail(str(err)) from None
    console.print(
        f"[bold]{summary.experiment}[/]: {summary.questions} questions, {summary.planned} "
        f"debates planned, {summary.ran} run, {summary.completed} completed, "
        f"{summary.failed} failed"
    )
    report_failures(summary.errors)
    if summary.elsewhere:
        console.print(f"{summary.elsewhere} debates were being run by another process")
    if summary.kept_failed:
        err_console.print(
            f"{summary.kept_failed} debates failed in an earlier run and were left alone: "
            "see `oversight status --failures`, rerun with --retry-failed"
        )
    if summary.failed:
        raise typer.Exit(code=1)


def _print_run_plan(cfg: ExperimentConfig, path: Path, as_json: bool, db: str | None) -> None:
    """The dry run: the questions are loaded as the run would load them; nothing else is.
    An existing store's history, if any, gives the time estimate."""
    from agents.templates import prompt_overhead
    from oversight.run_plan import TOKEN_RULE, plan_run
    from oversight.runner import experiment_questions

    try:
        questions = experiment_questions(cfg)
    except (DataError, OSError, ValueError) as err:
        raise fail(f"{path}: {err}") from None
    plan = plan_run(cfg, questions, prompt_overhead(cfg))
    estimate = time_estimate(cfg, plan, db)
    if as_json:
        out = plan.as_json()
        out["time"] = time_json(estimate)
        console.print_json(json.dumps(out))
        return
    table = Table(title=f"{escape(cfg.name)}: plan (dry run, nothing loaded or stored)")
    for col in ("protocol", "debates", "speeches", "generations", "prompt tokens", "new tokens"):
        table.add_column(col, justify="left" if col == "protocol" else "right")
    for name, p in plan.protocols.items():
        table.add_row(
            escape(name),
            str(p.debates),
            str(p.speeches),
            str(p.generations),
            f"~{p.prompt_tokens:,}",
            f"<= {p.completion_tokens:,}",
        )
    table.add_row(
        "judges", "", "", f"{plan.judgments} verdicts", f"~{plan.judge_prompt_tokens:,}", "0"
    )
    table.add_row(
        "total",
        str(plan.debates),
        "",
        "",
        f"~{plan.prompt_tokens:,}",
        f"<= {plan.completion_tokens:,}",
        style="bold",
    )
    table.caption = f"{plan.questions} questions; {TOKEN_RULE}"
    console.print(table)
    print_time_estimate(estimate)


@app.command()
def status(
    db: DbOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    failures: Annotated[
        bool,
        typer.Option("--failures", help="Show each failed debate's reason and traceback."),
    ] = False,
) -> None:
    """Per experiment: questions, debates by status, turns and judgments; failed debates with
    their reasons (and, with --failures, their tracebacks)."""
    store = open_store(db, create=False)
    rows: list[dict[str, Any]] = []
    for exp in store.all(Experiment, order_by=Experiment.created):
        summary = store.experiment_summary(exp.id or 0)
        rows.append(
            {
                "experiment": exp.name,
                "questions": summary.questions,
                "debates": summary.debates,
                "turns": summary.turns,
                "judgments": summary.judgments,
                "context_dropped": {
                    "turns": summary.turns_context_dropped,
                    "judgments": summary.judgments_context_dropped,
                },
                "tokens": {
                    model: {"prompt": t.prompt, "completion": t.completion}
                    for model, t in summary.tokens.items()
                },
                "created": exp.created.isoformat(),
                "failures": [
                    {"debate": f.debate, "key": f.key, "error": f.error, "traceback": f.traceback}
                    for f in summary.failures
                ],
            }
        )
    if as_json:
        if console.is_terminal:
            console.print_json(json.dumps(rows))
        else:  # the same text, without styling 100,000 lines (seconds at scale)
            console.file.write(json.dumps(rows, indent=2, ensure_ascii=False) + "\n")
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
    if any(r["tokens"] for r in rows):
        tokens = Table(title="Tokens per model (turns; judgments record none)")
        for col in ("experiment", "model", "prompt tokens", "completion tokens"):
            tokens.add_column(col)
        for r in rows:
            for model, t in r["tokens"].items():
                tokens.add_row(
                    escape(r["experiment"]), escape(model), str(t["prompt"]), str(t["completion"])
                )
        console.print(tokens)
    for r in rows:
        cut = r["context_dropped"]
        if cut["turns"] or cut["judgments"]:
            console.print(
                f"{escape(r['experiment'])}: {cut['turns']} turns and {cut['judgments']} "
                "judgments read the transcript without its earliest rounds, to fit the model's "
                "context (context_policy = drop_oldest; their `context` field says which)",
                highlight=False,
            )
    for r in rows:
        shown = r["failures"] if failures else r["failures"][:5]
        for f in shown:
            err_console.print(
                f"[bold red]failed[/] {escape(r['experiment'])} {escape(f['key'])}: "
                f"{escape(f['error'] or '')}",
                highlight=False,
            )
            if failures and f["traceback"]:
                err_console.print(escape(f["traceback"].rstrip()), highlight=False)
        if len(shown) < len(r["failures"]):
            err_console.print(
                f"... and {len(r['failures']) - len(shown)} more failed debates "
                "(oversight status --failures)"
            )


TiesOption = Annotated[
    str,
    typer.Option(
        "--ties",
        help="How a verdict of exactly 0.5 on the correct answer counts: incorrect "
        "(Michael et al. 2023: correct means P(correct) > 0.5) or half.",
    ),
]


@app.command()
def report(
    experiment: Annotated[str, typer.Argument(help="Experiment name.")],
    db: DbOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    per_judge: Annotated[
        bool, typer.Option("--per-judge", help="Also a row per human judge.")
    ] = False,
    same_debates: Annotated[
        bool,
        typer.Option("--same-debates", help="Only debates that every judge group judged."),
    ] = False,
    wins_by: Annotated[
        str | None,
        typer.Option(
            "--wins-by",
            help="Judge group whose verdicts decide win rates (a row label such as "
            "'ensemble (mean)' or 'human (live)'; default: the experiment's own judges, "
            "else the live humans).",
        ),
    ] = None,
    ties: TiesOption = "incorrect",
    out: Annotated[
        Path | None,
        typer.Option(
            "--out",
            help="Write report.md, plots/*.png and transcripts.html into this folder "
            "instead of printing the tables.",
        ),
    ] = None,
) -> None:
    """Judge accuracy per protocol (95% bootstrap CI), debater win rates, judge confidence.

    One row per judge group: the experiment's prompted judges, each replayed ensemble, each
    trained weak ensemble and the human judges of imported transcripts, side by side. With
    --out, also calibration, position bias, belief by round, weak-to-strong PGR, plots and a
    transcript browser, as files.
    """
    from oversight.report import experiment_summary
    from oversight.report.groups import UnknownGroupError

    if ties not in TIE_RULES:
        raise fail(f"--ties: unknown rule {ties!r} (known: {', '.join(TIE_RULES)})")
    store = open_store(db, create=False)
    if out is not None:
        from oversight.report.write import ReportError, write_report

        try:
            written = write_report(
                store,
                experiment,
                out,
                per_judge=per_judge,
                same_debates=same_debates,
                wins_by=wins_by,
                ties=ties,  # type: ignore[arg-type]
            )
        except (StoreError, UnknownGroupError, ReportError) as err:
            raise fail(str(err)) from None
        for path in (written.markdown, *written.plots, written.transcripts):
            console.print(f"wrote {escape(str(path))}", highlight=False, soft_wrap=True)
        return
    try:
        summary = experiment_summary(
            store,
            experiment,
            per_judge=per_judge,
            same_debates=same_debates,
            wins_by=wins_by,
            ties=ties,  # type: ignore[arg-type]
        )
    except (StoreError, UnknownGroupError) as err:
        raise fail(str(err)) from None
    if as_json:
        console.print_json(json.dumps(_json_safe(summary)))
        return
    from oversight.report.tables import print_summary

    print_summary(console, summary)
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


@app.command()
def replay(
    experiment: Annotated[str, typer.Argument(help="Experiment whose stored debates to judge.")],
    judges: Annotated[
        Path,
        typer.Option(
            "--judges",
            help="TOML file with \\[models.ALIAS] tables and \\[\\[judges]] entries.",
        ),
    ],
    db: DbOption = None,
    name: Annotated[
        str | None,
        typer.Option(
            "--as", help="Name of this judge ensemble in reports (default: the judges file's name)."
        ),
    ] = None,
    concurrency: Annotated[int | None, typer.Option(help="Debates judged at once.")] = None,
) -> None:
    """Judge an experiment's complete debates again with a new judge ensemble.

    Only judges run: debates and turns are read, never changed, and no debater is called.
    Rerunning resumes; judgments already stored are reused.
    """
    from graphs.replay import Replayer
    from oversight.replay import load_replay_config

    try:
        cfg = load_replay_config(judges)
        build_judges(cfg.judges, cfg.models, source=f"{judges}: judges")  # templates, now
    except ConfigError as err:
        raise fail(str(err)) from None
    label = name or judges.stem
    cfg = with_overrides(cfg, "command line", concurrency=concurrency)
    store = open_store(db, create=False)
    replayer = Replayer(cfg, store)
    with progress() as bar:
        task = bar.add_task(f"{experiment} / {label}", total=None)

        def update(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        try:
            summary = asyncio.run(replayer.run(experiment, label, progress=update))
        except (StoreError, ConfigError, BackendStartError) as err:
            raise fail(str(err)) from None
    console.print(
        f"[bold]{experiment}[/] replayed as [bold]{label}[/]: {summary.debates} complete "
        f"debates, {summary.judged} judged, {summary.added} judgments added, "
        f"{summary.failed} failed"
    )
    report_failures(summary.errors)
    if summary.failed:
        raise typer.Exit(code=1)


@app.command("import")
def import_(
    fmt: Annotated[str, typer.Argument(metavar="FORMAT", help="jsonl or nyu.")],
    paths: Annotated[list[Path], typer.Argument(help="Files, or folders of such files.")],
    db: DbOption = None,
    experiment: Annotated[
        str | None,
        typer.Option(
            help="Experiment to import into (nyu: default nyu-debates; jsonl: the exported one)."
        ),
    ] = None,
) -> None:
    """Import transcripts: the project's jsonl export, or NYU debate files (Michael et al.).

    Importing again adds nothing. A malformed file is reported with the field at fault and
    the other files still import; the exit code is 1 if any file failed.
    """
    from oversight.transcripts import FORMATS, import_files

    chosen = next((f for f in FORMATS if f == fmt), None)
    if chosen is None:
        raise fail(f"unknown format {fmt!r} (known: {', '.join(FORMATS)})")
    store = open_store(db)
    with progress() as bar:
        task = bar.add_task(f"import {fmt}", total=None)

        def update(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        try:
            result = import_files(store, chosen, paths, experiment=experiment, progress=update)
        except StoreError as err:
            raise fail(str(err)) from None
    added = result.added
    console.print(
        f"{len(result.files) - len(result.failed)} of {len(result.files)} files imported into "
        f"{', '.join(result.experiments) or '-'}: added {added.questions} questions, "
        f"{added.debates} debates, {added.turns} turns, {added.judgments} judgments"
    )
    for f in result.failed:
        err_console.print(f"[bold red]rejected:[/] {escape(f.error or '')}", highlight=False)
    if result.failed or not result.files:
        raise typer.Exit(code=1)


@app.command()
def export(
    experiment: Annotated[str, typer.Argument(help="Experiment name.")],
    out: Annotated[Path, typer.Option("--out", help="Output file (jsonl) or folder (hf).")],
    fmt: Annotated[str, typer.Option("--format", help="jsonl or hf.")] = "jsonl",
    db: DbOption = None,
) -> None:
    """Export an experiment: one record per debate with its question, turns and judgments.

    jsonl imports back with `oversight import jsonl`; hf is a datasets.Dataset folder for
    datasets.load_from_disk.
    """
    from oversight.transcripts import export_hf, export_jsonl

    exporters = {"jsonl": export_jsonl, "hf": export_hf}
    if fmt not in exporters:
        raise fail(f"unknown format {fmt!r} (known: {', '.join(exporters)})")
    store = open_store(db, create=False)
    try:
        n = exporters[fmt](store, experiment, out)
    except StoreError as err:
        raise fail(str(err)) from None
    except OSError as err:
        raise fail(f"cannot write {out}: {err.strerror or err}") from None
    console.print(f"{experiment}: {n} debates written to {out} ({fmt})")


# Weak-to-strong commands live in their own module (labels, pipeline).
from oversight.cli_w2s import label as _label_command  # noqa: E402
from oversight.cli_w2s import pipeline as _pipeline_command  # noqa: E402

app.command("label")(_label_command)
app.command("pipeline")(_pipeline_command)

from oversight.cli_serve import SERVE_SETTINGS  # noqa: E402
from oversight.cli_serve import serve as _serve_command  # noqa: E402

app.command("serve", context_settings=SERVE_SETTINGS)(_serve_command)

from oversight.cli_debaters import train_debaters as _train_debaters_command  # noqa: E402

app.command("train-debaters")(_train_debaters_command)

from oversight.cli_tournament import tournament as _tournament_command  # noqa: E402

app.command("tournament")(_tournament_command)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(app())
