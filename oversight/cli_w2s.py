"""The ``label`` and ``pipeline`` commands, registered on the ``oversight`` app by ``cli.py``.

Kept apart from ``cli.py`` so the weak-to-strong commands can grow without touching the
debate commands; heavy imports (torch, transformers) happen inside the commands.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from oversight.backends.base import BackendStartError
from oversight.cli_console import (
    DbOption,
    console,
    err_console,
    fail,
    open_store,
    print_time_estimate,
    progress,
    time_estimate,
    time_json,
)
from oversight.config import ConfigError
from oversight.store import StoreError

if TYPE_CHECKING:
    from oversight.pipeline_config import PipelineConfig


def _pct(x: float) -> str:
    return "n/a" if x != x else f"{100 * x:.1f}"


def label(
    experiment: Annotated[str, typer.Argument(help="Experiment whose judgments to aggregate.")],
    method: Annotated[str, typer.Option(help="mean, vote or logit-mean.")] = "mean",
    min_confidence: Annotated[
        float,
        typer.Option(
            "--min-confidence",
            min=0.0,
            max=1.0,
            help="Drop labels less confident than this (0 to 1; a binary label's confidence "
            "is at least 0.5).",
        ),
    ] = 0.0,
    protocol: Annotated[
        str | None, typer.Option(help="Only debates of this protocol (default: all).")
    ] = None,
    judges: Annotated[
        list[str] | None, typer.Option("--judges", help="Only these judge ids (repeatable).")
    ] = None,
    name: Annotated[str | None, typer.Option(help="Label set name (default: derived).")] = None,
    export: Annotated[
        Path | None,
        typer.Option("--export", help="Also save the label set as a datasets.Dataset folder."),
    ] = None,
    db: DbOption = None,
) -> None:
    """Build a label set from an experiment's stored final judgments.

    Per question: soft label, hard label, confidence, number of judges and their agreement.
    Rebuilding with the same settings reuses the stored set.
    """
    from oversight.labels import (
        LABEL_TIE_RULE,
        METHODS,
        LabelError,
        LabelRequest,
        build_label_set,
        compute_labels,
        label_accuracy,
        label_dataset,
        labels_of,
    )

    if method not in METHODS:
        raise fail(f"--method: unknown method {method!r} (known: {', '.join(METHODS)})")
    store = open_store(db, create=False)
    request = LabelRequest(
        method=method,  # type: ignore[arg-type]
        min_confidence=min_confidence,
        protocol=protocol,
        judges=tuple(judges) if judges else None,
    )
    try:
        stored = build_label_set(store, experiment, request, name=name)
    except (LabelError, StoreError) as err:
        raise fail(str(err)) from None
    labels = labels_of(store, stored.name)
    n = len(labels)
    ties = sum(
        a.tied
        for a in compute_labels(store, store.require_experiment(experiment), request).values()
    )
    table = Table(title=f"label set {stored.name}")
    for col in (
        "labels",
        "mean confidence",
        "mean agreement",
        "mean judges",
        "exact ties",
        "hard-label accuracy (eval only)",
    ):
        table.add_column(col, justify="right")
    table.add_row(
        str(n),
        _pct(sum(lab.confidence for lab in labels) / n),
        _pct(sum(lab.agreement for lab in labels) / n),
        f"{sum(lab.n_judges for lab in labels) / n:.1f}",
        str(ties),
        _pct(label_accuracy(store, stored.name)),
    )
    table.caption = LABEL_TIE_RULE
    console.print(table)
    if export is not None:
        label_dataset(store, stored.name).save_to_disk(str(export))
        console.print(f"saved {n} labels to {export} (datasets.load_from_disk)")


def pipeline(
    config: Annotated[
        Path, typer.Argument(help="Pipeline TOML file: an experiment plus a \\[w2s] table.")
    ],
    db: DbOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the results as JSON.")] = False,
    dry_run: Annotated[
        bool,
        typer.Option(
            "--dry-run",
            help="Validate, resolve the models, load the questions and print the plan "
            "(splits, debates, judgments, training runs, estimated tokens); loads no model "
            "and writes nothing.",
        ),
    ] = False,
) -> None:
    """Weak-to-strong on debate labels: debates, weak judges, labels, students, PGR.

    Every stage is stored; rerunning the same config resumes and skips finished stages.
    """
    from oversight.pipeline import Pipeline
    from oversight.pipeline_config import load_pipeline_config
    from oversight.report.w2s import members_table, pgr_table

    try:
        cfg = load_pipeline_config(config)
    except ConfigError as err:
        raise fail(str(err)) from None
    if dry_run:
        _dry_run(cfg, config, as_json, db)
        return
    store = open_store(db, cfg.store)
    log = logging.getLogger("oversight.pipeline")
    with progress() as bar:
        task = bar.add_task(f"{cfg.name} debates", total=None)

        def update(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        def notify(message: str) -> None:
            bar.console.log(message)
            log.debug(message)

        try:
            result = Pipeline(cfg, store, notify=notify, debate_progress=update).run()
        except (StoreError, ConfigError, ValueError, BackendStartError) as err:
            raise fail(str(err)) from None
    if as_json:
        console.print_json(json.dumps(result.as_json()))
        return
    console.print(pgr_table(result.rows, f"{cfg.name}: weak-to-strong on debate labels"))
    console.print(members_table(result.details["members"]))
    for reason in result.details["unavailable"].values():
        err_console.print(reason)
    if result.debates is not None and result.debates.failed:
        err_console.print(
            f"{result.debates.failed} debates failed (their questions have no transcript); "
            "rerun to retry them"
        )
    console.print(
        f"splits A/B/test = {result.splits['weak']}/"
        f"{result.splits['label'] + result.splits['validation']}/{result.splits['test']} "
        f"questions (B: {result.splits['label']} trained on, {result.splits['validation']} "
        f"validation); {result.stages_run} stages run, "
        f"{result.stages_skipped} reused; {result.wall_seconds:.0f} s; outputs in "
        f"{result.output_dir}"
    )


def _dry_run(cfg: PipelineConfig, path: Path, as_json: bool, db: str | None) -> None:
    """Print the plan of a pipeline config; a model or data problem fails naming the file."""
    from oversight.models import ModelNotFoundError
    from oversight.pipeline_plan import plan_pipeline, plan_table

    try:
        plan = plan_pipeline(cfg)
    except (ValueError, ModelNotFoundError, OSError) as err:
        raise fail(f"{path}: {err}") from None
    # The debate stage's time, from the store's history; training is not estimated.
    estimate = time_estimate(cfg.debate_config(), plan, db)
    if as_json:
        out = plan.as_json()
        out["time"] = time_json(estimate)
        console.print_json(json.dumps(out))
        return
    console.print(plan_table(plan))
    print_time_estimate(estimate)
