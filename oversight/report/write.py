"""``oversight report EXPERIMENT --out DIR``: the report as files people would rather read.

Writes ``report.md`` (tables with their rules), ``plots/*.png`` and ``transcripts.html``
(every debate, browsable offline). Everything is computed from the Store by the same rules as
the terminal report; the folder is created if needed, and a folder that cannot be written is
a :class:`ReportError` naming it, raised before any work is done.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from oversight.metrics import TieRule
from oversight.report import plots
from oversight.report.calibration import calibration_rows, reliability
from oversight.report.context import load_context
from oversight.report.html import transcripts_page
from oversight.report.markdown import ReportNumbers, render_markdown
from oversight.report.position import position_rows
from oversight.report.rounds import round_points
from oversight.report.summary import experiment_summary
from oversight.report.training import pgr_rows
from oversight.store import Store


class ReportError(RuntimeError):
    """The report cannot be written where asked."""


@dataclass
class WrittenReport:
    """The files one call wrote."""

    markdown: Path
    transcripts: Path
    plots: list[Path] = field(default_factory=list)


def _prepare(out_dir: Path) -> None:
    try:
        (out_dir / "plots").mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=out_dir, prefix=".write-test-"):
            pass
    except OSError as err:
        raise ReportError(f"cannot write the report to {out_dir}: {err.strerror or err}") from None


def _write(path: Path, text: str) -> None:
    """Write through a temporary file, so a reader never sees half a page."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def write_report(
    store: Store,
    experiment: str,
    out_dir: Path,
    *,
    per_judge: bool = False,
    same_debates: bool = False,
    wins_by: str | None = None,
    ties: TieRule = "incorrect",
) -> WrittenReport:
    """Write ``report.md``, ``plots/*.png`` and ``transcripts.html`` into ``out_dir``.

    Options mean what they mean for ``oversight report``. Raises
    :class:`~oversight.store.StoreError` for an unknown experiment,
    :class:`~oversight.report.groups.UnknownGroupError` for an unknown ``wins_by`` group and
    :class:`ReportError` for a folder that cannot be written.
    """
    ctx = load_context(store, experiment, same_debates=same_debates, wins_by=wins_by, ties=ties)
    _prepare(out_dir)
    summary = experiment_summary(
        store,
        experiment,
        per_judge=per_judge,
        same_debates=same_debates,
        wins_by=wins_by,
        ties=ties,
    )
    numbers = ReportNumbers(
        summary=summary,
        calibration=calibration_rows(ctx),
        position=position_rows(ctx),
        rounds=round_points(ctx),
        pgr=pgr_rows(store, ctx.experiment),
    )
    figures = out_dir / "plots"
    written: list[Path] = []
    try:
        if any(r.get("is_group") for r in summary["judges"]):
            written.append(
                plots.accuracy_by_protocol(
                    summary["judges"],
                    figures / "accuracy_by_protocol.png",
                    f"{experiment}: judge accuracy by protocol (95% CI)",
                )
            )
            numbers.plots["Judge accuracy by protocol"] = "plots/accuracy_by_protocol.png"
        if numbers.rounds:
            written.append(
                plots.accuracy_by_round(
                    numbers.rounds,
                    figures / "accuracy_by_round.png",
                    f"{experiment}: belief in the correct answer by round",
                )
            )
            numbers.plots["Belief in the correct answer by round"] = "plots/accuracy_by_round.png"
        bins = reliability(ctx)
        if bins:
            written.append(
                plots.reliability_diagram(
                    bins, figures / "reliability.png", f"{experiment}: reliability"
                )
            )
            numbers.plots["Reliability diagram"] = "plots/reliability.png"
        if numbers.pgr:
            written.append(
                plots.pgr_by_source(
                    numbers.pgr, figures / "pgr_by_source.png", f"{experiment}: PGR by label source"
                )
            )
            numbers.plots["PGR by label source"] = "plots/pgr_by_source.png"
        markdown = out_dir / "report.md"
        _write(markdown, render_markdown(numbers, store_url=store.url))
        page = out_dir / "transcripts.html"
        _write(page, transcripts_page(store, ctx))
    except OSError as err:
        raise ReportError(f"cannot write the report to {out_dir}: {err.strerror or err}") from None
    return WrittenReport(markdown=markdown, transcripts=page, plots=written)
