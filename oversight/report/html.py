"""``transcripts.html``: one self-contained page to browse every debate of an experiment.

The page is a skeleton, a style sheet and a script (``assets/``), with the experiment's data
embedded as JSON. It needs no network: nothing is loaded from anywhere, and its Content
Security Policy forbids it (``default-src 'none'``; only the page's own script and style run,
by hash). Model text is untrusted, so it never becomes markup:

- the data sits in ``<script type="application/json">`` with ``<``, ``>`` and ``&`` written
  as ``\\u003c``, ``\\u003e``, ``\\u0026``, so no text can close that element or open another;
- the script builds the DOM with ``textContent`` only (a ``<script>`` in a speech is shown
  as those characters), and the policy would refuse any script it did not hash anyway.

Quotes are split out of a speech with the debaters' own quote syntax
(:data:`oversight.quotes.QUOTE_RE`) and styled by the verified flags stored on the Turn (or
checked again against the hidden text where the stored list does not line up). The page
renders lazily: filtering walks plain arrays and only the first 100 matches become DOM
("show more" adds 100), so 5,000 debates stay quick.
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import math
import re
from collections import defaultdict
from collections.abc import Sequence
from importlib import resources
from typing import Any

from oversight.quotes import QUOTE_RE, extract_quotes
from oversight.report.context import ReportContext, group_verdicts, rounds_read
from oversight.report.groups import JudgeGroup
from oversight.store import Candidate, Store, Turn
from oversight.store.judges import FINAL_VERDICT
from oversight.store.store import transcript_order

_MARKER = re.compile(r"@@([A-Z]+)@@")
_JSON_ESCAPES = {
    "<": "\\u003c",
    ">": "\\u003e",
    "&": "\\u0026",
    "\u2028": "\\u2028",
    "\u2029": "\\u2029",
}


def _asset(name: str) -> str:
    return resources.files("oversight.report").joinpath("assets", name).read_text(encoding="utf-8")


def _sha256(text: str) -> str:
    return base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode("ascii")


def script_json(data: Any) -> str:
    """``data`` as JSON that is inert inside a ``<script>`` element (NaN becomes null)."""
    text = json.dumps(_finite(data), ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    return re.sub("[<>&\u2028\u2029]", lambda m: _JSON_ESCAPES[m.group(0)], text)


def _finite(x: Any) -> Any:
    if isinstance(x, float) and not math.isfinite(x):
        return None
    if isinstance(x, dict):
        return {k: _finite(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [_finite(v) for v in x]
    return x


def segments(text: str, quotes: Sequence[dict[str, Any]], context: str | None) -> list[list[str]]:
    """A speech as ``[kind, text]`` pieces: ``t`` plain text, ``v`` / ``u`` a verified /
    unverified quote (its words, without the quote tags)."""
    found = list(QUOTE_RE.finditer(text))
    if len(quotes) == len(found):
        flags = [bool(q.get("verified")) for q in quotes]
    else:
        flags = [bool(q["verified"]) for q in extract_quotes(text, context)]
    out: list[list[str]] = []
    pos = 0
    for m, verified in zip(found, flags, strict=True):
        if m.start() > pos:
            out.append(["t", text[pos : m.start()]])
        out.append(["v" if verified else "u", m.group(1)])
        pos = m.end()
    if pos < len(text):
        out.append(["t", text[pos:]])
    return out


def load_turns(store: Store, debate_ids: Sequence[str]) -> dict[str, list[Turn]]:
    """Turns per debate in transcript order, 500 debates per query."""
    out: dict[str, list[Turn]] = defaultdict(list)
    ids = list(debate_ids)
    for i in range(0, len(ids), 500):
        for t in store.all(Turn, Turn.debate_id.in_(ids[i : i + 500])):  # type: ignore[attr-defined]
            out[t.debate_id].append(t)
    for turns in out.values():
        turns.sort(key=transcript_order)
    return out


def _verdict_by_debate(ctx: ReportContext, group: JudgeGroup) -> dict[str, float]:
    """The group's P(correct) per debate: its verdict (a model group's mean), or the mean of
    its members' own verdicts (a human group's)."""
    found: dict[str, list[float]] = defaultdict(list)
    for v in group_verdicts(ctx, group):
        found[v.debate_id].append(v.p_correct)
    return {d: sum(ps) / len(ps) for d, ps in found.items()}


def load_candidates(
    store: Store, debate_ids: Sequence[str]
) -> dict[tuple[str, int, str], list[Candidate]]:
    """Best-of-N samples, drafts and critiques per (debate, round, speaker), 500 debates per
    query, samples first by index, then the draft and its critique."""
    order = {"sample": 0, "draft": 1, "critique": 2}
    out: dict[tuple[str, int, str], list[Candidate]] = defaultdict(list)
    ids = list(debate_ids)
    for i in range(0, len(ids), 500):
        for c in store.all(Candidate, Candidate.debate_id.in_(ids[i : i + 500])):  # type: ignore[attr-defined]
            out[(c.debate_id, c.round, c.speaker)].append(c)
    for rows in out.values():
        rows.sort(key=lambda c: (order.get(c.kind, 3), c.index))
    return out


def _notes(rows: Sequence[Candidate]) -> list[dict[str, Any]]:
    return [
        {"kind": c.kind, "index": c.index, "text": c.text, "score": c.score, "chosen": c.chosen}
        for c in rows
    ]


def page_data(
    ctx: ReportContext,
    turns: dict[str, list[Turn]],
    rules: str,
    candidates: dict[tuple[str, int, str], list[Candidate]] | None = None,
) -> dict[str, Any]:
    """Everything the page shows, as plain data (what is embedded in it)."""
    candidates = candidates or {}
    groups_of: dict[str, list[int]] = defaultdict(list)
    for k, g in enumerate(ctx.groups):
        for jid in g.judge_ids:
            groups_of[jid].append(k)
    by_debate: dict[str, dict[str, list[Any]]] = defaultdict(lambda: defaultdict(list))
    for j in ctx.judgments:
        by_debate[j.debate_id][j.judge_id].append(j)
    verdicts = [_verdict_by_debate(ctx, g) for g in ctx.groups]
    used = {d.question_id for d in ctx.debates}
    questions = {
        q.id: {"text": q.text, "choices": list(q.choices), "correct": q.correct_index}
        for q in ctx.questions.values()
        if q.id in used
    }
    records = []
    for d in ctx.debates:
        context = ctx.questions[d.question_id].context
        judgments = []
        for jid, js in sorted(by_debate[d.id].items(), key=lambda kv: ctx.names.get(kv[0], kv[0])):
            final = next((j for j in js if j.after_round == FINAL_VERDICT), None)
            beliefs = sorted(
                (rounds_read(j.after_round), list(j.probs))
                for j in js
                if j.after_round != FINAL_VERDICT
            )
            feedback = final.raw.get("feedback") if final is not None else None
            judgments.append(
                {
                    "judge": ctx.names.get(jid, jid),
                    "groups": [ctx.groups[k].label for k in groups_of.get(jid, [])],
                    "probs": list(final.probs) if final is not None else None,
                    "orders": dict(final.probs_by_order) if final is not None else {},
                    "beliefs": [list(b) for b in beliefs],
                    "feedback": feedback if isinstance(feedback, str) and feedback else None,
                }
            )
        records.append(
            {
                "id": d.id,
                "key": d.key,
                "protocol": d.protocol,
                "status": d.status,
                "q": d.question_id,
                "assignment": sorted(d.assignment.items()),
                "turns": [
                    {
                        "round": t.round,
                        "speaker": t.speaker,
                        "segments": segments(t.text, t.quotes, context),
                        "notes": _notes(candidates.get((d.id, t.round, t.speaker), [])),
                    }
                    for t in turns.get(d.id, [])
                ],
                "judgments": judgments,
                "verdicts": [verdicts[k].get(d.id) for k in range(len(ctx.groups))],
            }
        )
    deciding = ctx.groups.index(ctx.deciding) if ctx.deciding in ctx.groups else None
    status = ", ".join(f"{n} {s}" for s, n in sorted(ctx.status.items()))
    return {
        "experiment": ctx.experiment.name,
        "subtitle": f"{len(records)} debates ({status}); judge groups: "
        + (", ".join(g.label for g in ctx.groups) or "none"),
        "rules": rules,
        "protocols": sorted({d.protocol for d in ctx.debates}),
        "groups": [{"label": g.label, "kind": g.kind.value} for g in ctx.groups],
        "deciding": deciding,
        "questions": questions,
        "debates": records,
    }


PAGE_RULES = (
    "Judged correct / judge fooled: the group's P(correct) on the debate is above / below 0.5 "
    "(exactly 0.5 is a tie); a group's P(correct) here is the mean of its members' final "
    "verdicts. With no group chosen, it is the verdict of {deciding}. Probabilities per "
    "presentation order: 'shown B,A' is the judge's probability per answer when B was shown "
    "first. Rounds read: 0 is the belief before any speech."
)


def render_page(data: dict[str, Any]) -> str:
    """The self-contained page for ``data`` (see :func:`page_data`)."""
    style, script = _asset("transcripts.css"), _asset("transcripts.js")
    csp = (
        "default-src 'none'; "
        f"script-src 'sha256-{_sha256(script)}'; style-src 'sha256-{_sha256(style)}'; "
        "img-src data:; base-uri 'none'; form-action 'none'"
    )
    values = {
        "CSP": csp,
        "TITLE": html.escape(f"Transcripts: {data['experiment']}"),
        "STYLE": style,
        "SCRIPT": script,
        "DATA": script_json(data),
    }
    return _MARKER.sub(lambda m: values[m.group(1)], _asset("transcripts.html"))


def transcripts_page(store: Store, ctx: ReportContext) -> str:
    """The page for every debate the report counts."""
    deciding = repr(ctx.deciding.label) if ctx.deciding is not None else "no group"
    ids = [d.id for d in ctx.debates]
    turns, candidates = load_turns(store, ids), load_candidates(store, ids)
    return render_page(page_data(ctx, turns, PAGE_RULES.format(deciding=deciding), candidates))
