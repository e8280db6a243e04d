"""The report's terminal tables, sized to stay readable in an 80-column terminal.

Headers are short and every column may fold rather than truncate; the rules behind each number
(what counts as correct, ties, intervals, who decides wins) are printed under the tables.
"""

from __future__ import annotations

import math
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from oversight.report.choices import MAJORITY


def pct(x: float | None) -> str:
    return "n/a" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{100 * x:.1f}"


def _table(title: str, columns: list[tuple[str, str]]) -> Table:
    table = Table(title=title, title_justify="left", pad_edge=False, collapse_padding=True)
    for name, justify in columns:
        table.add_column(name, justify=justify, overflow="fold")  # type: ignore[arg-type]
    return table


def accuracy_table(summary: dict[str, Any]) -> Table:
    """Judge accuracy per protocol: members, then each group's row in bold."""
    table = _table(
        f"{escape(summary['experiment'])}: judge accuracy (%), 95% CI",
        [
            ("protocol", "left"),
            ("judge", "left"),
            ("n", "right"),
            ("qs", "right"),
            ("acc", "right"),
            ("95% CI", "right"),
            ("ties", "right"),
            ("conf", "right"),
        ],
    )
    for r in summary["judges"]:
        table.add_row(
            escape(r["protocol"]),
            escape(r["judge"]),
            str(r["verdicts"]),
            str(r["questions"]),
            pct(r["accuracy"]),
            f"{pct(r['ci_low'])}-{pct(r['ci_high'])}",
            str(r["ties"]),
            pct(r["confidence"]),
            style="bold" if r.get("is_group") else None,
        )
    return table


def wins_table(summary: dict[str, Any]) -> Table:
    table = _table(
        f"Win rate (%) by side argued, decided by {escape(str(summary['wins_judged_by']))}",
        [
            ("protocol", "left"),
            ("speaker", "left"),
            ("argued", "left"),
            ("debates", "right"),
            ("win rate", "right"),
            ("ties", "right"),
        ],
    )
    for w in summary["wins"]:
        table.add_row(
            escape(w["protocol"]),
            escape(w["speaker"]),
            w["argued"],
            str(w["debates"]),
            pct(w["win_rate"]),
            str(w["ties"]),
        )
    return table


def picks_table(summary: dict[str, Any]) -> Table:
    """Open roles: how often the chooser picked the correct answer, and the judges on each."""
    table = _table(
        f"Open roles: picks, judged by {escape(str(summary['picks'][0]['judged_by']))}",
        [
            ("protocol", "left"),
            ("chooser", "left"),
            ("n", "right"),
            ("picked correct", "right"),
            ("95% CI", "right"),
            ("judges | correct pick", "right"),
            ("judges | wrong pick", "right"),
        ],
    )

    def judged(x: dict[str, Any]) -> str:
        return f"{pct(x['value'])} (n={x['n']})"

    for r in summary["picks"]:
        p = r["picked_correct"]
        table.add_row(
            escape(r["protocol"]),
            escape(r["chooser"]),
            str(p["n"]),
            pct(p["value"]),
            f"{pct(p['ci_low'])}-{pct(p['ci_high'])}",
            judged(r["judges_when_correct"]),
            judged(r["judges_when_incorrect"]),
        )
    return table


def rules_text(summary: dict[str, Any]) -> str:
    rules = summary["rules"]
    lines = [
        "n: verdicts counted; qs: questions; conf: mean probability on the favoured answer.",
        f"Correct: {rules['correct']}; {rules['ties']}.",
        f"CI: {rules['interval']}. Groups: {rules['ensemble']}.",
    ]
    if summary["wins"]:
        lines.append(f"Wins: {rules['wins']}.")
    if summary.get("picks"):
        lines.append(f"Picks: {rules['picks']}.")
    if any(r["judge"] == MAJORITY for r in summary["judges"]):
        lines.append(f"Agents (majority): {rules['majority']}.")
    return "\n".join(lines)


def print_summary(console: Console, summary: dict[str, Any]) -> None:
    """The accuracy table, the win-rate table and the rules they follow."""
    console.print(accuracy_table(summary))
    if summary["wins"]:
        console.print(wins_table(summary))
    if summary.get("picks"):
        console.print(picks_table(summary))
    console.print(escape(rules_text(summary)), highlight=False)
