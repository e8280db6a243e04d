"""``report.md``: the report's tables in Markdown, each followed by the rules behind it.

Numbers are formatted here and computed elsewhere (summary, calibration, position, rounds,
training). Table cells are escaped: a judge or protocol name holding ``|``, a newline or
markup stays one cell of text.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from oversight.report.calibration import CALIBRATION_RULES, CalibrationRow
from oversight.report.choices import MAJORITY
from oversight.report.position import POSITION_RULES, PositionRow
from oversight.report.rounds import ROUND_RULES, RoundPoint
from oversight.report.training import PGR_RULES
from oversight.report.w2s import PGRRow


@dataclass
class ReportNumbers:
    """Everything ``report.md`` shows."""

    summary: dict[str, Any]
    """:func:`oversight.report.experiment_summary`'s result."""
    calibration: list[CalibrationRow]
    position: list[PositionRow]
    rounds: list[RoundPoint]
    pgr: list[PGRRow]
    plots: dict[str, str] = field(default_factory=dict)
    """Caption -> path of the PNG, relative to the report."""


def cell(x: Any) -> str:
    """Text as one Markdown table cell."""
    text = " ".join(str(x).split())
    for a, b in (
        ("&", "&amp;"),
        ("<", "&lt;"),
        (">", "&gt;"),
        ("|", "\\|"),
        ("*", "\\*"),
        ("_", "\\_"),
    ):
        text = text.replace(a, b)
    return text


def pct(x: float | None, digits: int = 1) -> str:
    return "n/a" if x is None or math.isnan(x) else f"{100 * x:.{digits}f}"


def num(x: float | None, digits: int = 3) -> str:
    return "n/a" if x is None or math.isnan(x) else f"{x:.{digits}f}"


def ci(lo: float | None, hi: float | None, digits: int = 1) -> str:
    if lo is None or hi is None or math.isnan(lo) or math.isnan(hi):
        return "n/a"
    return f"[{pct(lo, digits)}, {pct(hi, digits)}]"


def table(header: Sequence[str], rows: Sequence[Sequence[str]], bold: Sequence[bool] = ()) -> str:
    """A Markdown table; rows marked in ``bold`` have every cell bold."""
    align = ["---" if k < 3 else "---:" for k in range(len(header))]
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join(align) + " |"]
    for i, row in enumerate(rows):
        strong = i < len(bold) and bold[i]
        lines.append("| " + " | ".join(f"**{c}**" if strong and c else c for c in row) + " |")
    return "\n".join(lines)


def _accuracy(summary: dict[str, Any]) -> str:
    rows = summary["judges"]
    body = table(
        [
            "protocol",
            "judge",
            "kind",
            "verdicts",
            "questions",
            "accuracy %",
            "95% CI",
            "ties",
            "confidence %",
        ],
        [
            [
                cell(r["protocol"]),
                cell(r["judge"]),
                cell(r.get("kind") or ""),
                str(r["verdicts"]),
                str(r["questions"]),
                pct(r["accuracy"]),
                ci(r["ci_low"], r["ci_high"]),
                str(r["ties"]),
                pct(r["confidence"]),
            ]
            for r in rows
        ],
        # Bold marks a group's row only where members' rows stand beside it.
        [bool(r.get("is_group")) and not all(x.get("is_group") for x in rows) for r in rows],
    )
    note = (
        "Members' rows first, then each group's row in bold."
        if not all(r.get("is_group") for r in rows)
        else "One row per judge group."
    )
    return f"## Judge accuracy\n\n{note}\n\n{body}\n\n{_rules(summary)}"


def _rules(summary: dict[str, Any]) -> str:
    r = summary["rules"]
    return (
        f"Rules: {r['correct']}; {r['ties']}. 95% CI: {r['interval']}. Groups: {r['ensemble']}. "
        "Verdicts: verdicts counted; confidence: mean probability on the favoured answer."
        + (f" Agents (majority): {r['majority']}." if _has_majority(summary) else "")
    )


def _has_majority(summary: dict[str, Any]) -> bool:
    return any(row["judge"] == MAJORITY for row in summary["judges"])


def _wins(summary: dict[str, Any]) -> str:
    if not summary["wins"]:
        return "## Debater win rates\n\nNo debate with assigned sides was judged."
    body = table(
        ["protocol", "speaker", "argued", "debates", "win rate %", "ties"],
        [
            [
                cell(w["protocol"]),
                cell(w["speaker"]),
                w["argued"],
                str(w["debates"]),
                pct(w["win_rate"]),
                str(w["ties"]),
            ]
            for w in summary["wins"]
        ],
    )
    return (
        f"## Debater win rates\n\nDecided by {cell(summary['wins_judged_by'])}; `any` pools "
        f"the speakers.\n\n{body}\n\nRules: {summary['rules']['wins']}; {summary['rules']['ties']}."
    )


def _picks(summary: dict[str, Any]) -> str:
    if not summary.get("picks"):
        return ""

    def judged(x: dict[str, Any]) -> str:
        return f"{pct(x['value'])} {ci(x['ci_low'], x['ci_high'])} (n={x['n']})"

    body = table(
        [
            "protocol",
            "chooser",
            "debates",
            "picked correct %",
            "95% CI",
            "stance conf %",
            "judges when correct %",
            "judges when incorrect %",
        ],
        [
            [
                cell(r["protocol"]),
                cell(r["chooser"]),
                str(r["picked_correct"]["n"]),
                pct(r["picked_correct"]["value"]),
                ci(r["picked_correct"]["ci_low"], r["picked_correct"]["ci_high"]),
                pct(r["confidence"]),
                judged(r["judges_when_correct"]),
                judged(r["judges_when_incorrect"]),
            ]
            for r in summary["picks"]
        ],
    )
    return (
        f"## Open roles: the chooser's pick\n\nJudged by {cell(summary['picks'][0]['judged_by'])}."
        f"\n\n{body}\n\nRules: {summary['rules']['picks']}; {summary['rules']['ties']}. "
        f"95% CI: {summary['rules']['interval']}."
    )


def _calibration(rows: Sequence[CalibrationRow]) -> str:
    if not rows:
        return "## Judge calibration\n\nNo final verdicts."
    body = table(
        ["protocol", "judge group", "verdicts", "ECE", "Brier", "AUROC"],
        [
            [
                cell(r.protocol),
                cell(r.group),
                str(r.verdicts),
                num(r.ece),
                num(r.brier),
                num(r.auroc),
            ]
            for r in rows
        ],
    )
    return f"## Judge calibration\n\n{body}\n\nRules: {CALIBRATION_RULES}"


def _position(rows: Sequence[PositionRow]) -> str:
    if not rows:
        return (
            "## Position bias\n\nNo final verdict here was scored in both presentation orders "
            "(human judges and trained classifiers give one verdict in one order), so there is "
            f"no position bias to measure. Rules: {POSITION_RULES}"
        )
    body = table(
        [
            "protocol",
            "judge group",
            "judge",
            "verdicts",
            "orders disagree %",
            "shift to first (pp)",
        ],
        [
            [
                cell(r.protocol),
                cell(r.group),
                cell(r.judge),
                str(r.verdicts),
                pct(r.disagree),
                f"{100 * r.first_shift:+.1f}",
            ]
            for r in rows
        ],
        [r.is_group for r in rows],
    )
    return f"## Position bias\n\n{body}\n\nRules: {POSITION_RULES}"


def _rounds(points: Sequence[RoundPoint]) -> str:
    if not points:
        return ""
    body = table(
        [
            "protocol",
            "judge group",
            "rounds read",
            "verdicts",
            "debates",
            "mean P(correct) %",
            "95% CI",
            "accuracy %",
        ],
        [
            [
                cell(p.protocol),
                cell(p.group),
                str(p.rounds_read),
                str(p.verdicts),
                str(p.debates),
                pct(p.p_correct),
                ci(p.ci_low, p.ci_high),
                pct(p.accuracy),
            ]
            for p in points
        ],
    )
    return f"## Belief in the correct answer after each round\n\n{body}\n\nRules: {ROUND_RULES}"


def _pgr(rows: Sequence[PGRRow]) -> str:
    if not rows:
        return ""

    def with_ci(x: float, bounds: tuple[float, float]) -> str:
        return f"{pct(x)} {ci(*bounds, digits=0)}" if not math.isnan(x) else "n/a"

    body = table(
        [
            "label source",
            "labels",
            "label acc %",
            "weak %",
            "transfer %",
            "ceiling %",
            "PGR %",
            "PGR per seed %",
        ],
        [
            [
                cell(r.source),
                str(r.labels),
                pct(r.label_accuracy),
                with_ci(r.weak, r.weak_ci),
                with_ci(r.transfer, r.transfer_ci),
                with_ci(r.ceiling, r.ceiling_ci),
                with_ci(r.pgr, r.pgr_ci),
                ", ".join(pct(p) for p in r.pgr_by_seed),
            ]
            for r in rows
        ],
    )
    questions, seeds = rows[0].questions, rows[0].seeds
    return (
        f"## Weak-to-strong\n\n{questions} test questions, {seeds} student seeds.\n\n{body}\n\n"
        f"Rules: {PGR_RULES}"
    )


def render_markdown(numbers: ReportNumbers, *, store_url: str) -> str:
    """The whole ``report.md``."""
    s = numbers.summary
    status = ", ".join(f"{n} {k}" for k, n in sorted(s["debates"].items())) or "none"
    groups = ", ".join(f"{cell(g['label'])} ({g['kind']})" for g in s["groups"]) or "none"
    parts = [
        f"# Report: {cell(s['experiment'])}",
        f"Store {cell(store_url)}. Debates: {status}. Judge groups: {groups}. Transcripts: "
        "[transcripts.html](transcripts.html).",
        _accuracy(s),
        _wins(s),
        _picks(s),
        _calibration(numbers.calibration),
        _position(numbers.position),
        _rounds(numbers.rounds),
        _pgr(numbers.pgr),
    ]
    if numbers.plots:
        parts.append(
            "## Plots\n\n" + "\n\n".join(f"![{cell(c)}]({p})" for c, p in numbers.plots.items())
        )
    return "\n\n".join(p for p in parts if p) + "\n"
