"""The source registry: one entry point from a source name to selected questions.

Selection is a seeded shuffle of the whole split keyed by question id, then a prefix, so
raising ``limit`` extends the selection and a question's place does not depend on which
other rows the split holds.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from oversight.data import hub_formats, shared_sources
from oversight.data.binarize import binarize as binarize_questions
from oversight.data.drafts import Loaded, QuestionDraft, convert_rows
from oversight.data.errors import DataError
from oversight.data.generic_jsonl import load_jsonl
from oversight.data.hub_files import canonical_split, hub_split, rows_from_hub, rows_from_path
from oversight.store.tables import Question

logger = logging.getLogger(__name__)

Loader = Callable[[str | Path | None, str], Loaded]
"""``(path, split) -> drafts`` with all choices, in source order, and the rows set aside."""

SKIPS_SHOWN = 5
"""Malformed rows reported one by one before the rest are only counted."""


@dataclass(frozen=True)
class SourceSpec:
    """A named question source."""

    name: str
    load: Loader
    aliases: tuple[str, ...] = ()
    hub_id: str | None = None
    """The Hugging Face Hub id read with ``datasets`` when no path is given."""


def load_hub(
    hub_id: str, convert: hub_formats.Converter, path: str | Path | None, split: str
) -> Loaded:
    """Rows in the Hub's format, from ``path`` (a file or Hub-style folder) or the Hub."""
    name = canonical_split(split)
    if path is not None:
        rows = rows_from_path(Path(path), hub_split(split))
    else:
        rows = rows_from_hub(hub_id, hub_split(split))
    return convert_rows(rows, lambda where, row: convert(where, row, name))


def _hub(name: str, hub_id: str, convert: hub_formats.Converter, *aliases: str) -> SourceSpec:
    return SourceSpec(name, partial(load_hub, hub_id, convert), aliases, hub_id)


SOURCES: tuple[SourceSpec, ...] = (
    SourceSpec("mmlu", shared_sources.load_mmlu),
    SourceSpec("arc", shared_sources.load_arc, ("arc-challenge",)),
    SourceSpec("cosmosqa", shared_sources.load_cosmosqa),
    SourceSpec("boolq", shared_sources.load_boolq),
    SourceSpec("truthfulqa", shared_sources.load_truthfulqa),
    SourceSpec("jsonl", load_jsonl),
    _hub("sciq", "allenai/sciq", hub_formats.sciq_row, "allenai/sciq"),
    _hub("google/boolq", "google/boolq", hub_formats.boolq_row),
    _hub("cosmos_qa", "allenai/cosmos_qa", hub_formats.cosmos_qa_row, "allenai/cosmos_qa"),
    _hub("hh-rlhf", "Anthropic/hh-rlhf", hub_formats.hh_rlhf_row, "anthropic/hh-rlhf"),
    _hub(
        "amazon_polarity",
        "fancyzhx/amazon_polarity",
        hub_formats.amazon_polarity_row,
        "fancyzhx/amazon_polarity",
    ),
    _hub("quality", "emozilla/quality", hub_formats.quality_row, "emozilla/quality"),
    _hub(
        "tasksource/QuALITY",
        "tasksource/QuALITY",
        hub_formats.tasksource_quality_row,
        "quality-tasksource",
    ),
)

_BY_NAME = {key.lower(): spec for spec in SOURCES for key in (spec.name, *spec.aliases)}


def available_sources() -> list[str]:
    """Source names ``load_questions`` accepts (Hub ids such as ``allenai/sciq`` are aliases
    of the Hub formats; ``boolq`` and ``cosmosqa`` are the shared-folder copies)."""
    return [spec.name for spec in SOURCES]


def source_spec(source: str) -> SourceSpec:
    """The spec for a source name or alias (case-insensitive)."""
    spec = _BY_NAME.get(source.strip().lower())
    if spec is None:
        known = ", ".join(sorted({*_BY_NAME}))
        raise DataError(
            "load_questions", f"unknown source {source!r}; known: {known}", field="source"
        )
    return spec


def load_questions(
    source: str,
    *,
    path: str | Path | None = None,
    split: str = "test",
    limit: int | None = None,
    seed: int = 0,
    binarize: bool = True,
    strict: bool = False,
) -> list[Question]:
    """Questions from ``source``: a seeded selection of ``limit`` (default all) of ``split``,
    binarized unless ``binarize=False``.

    A malformed row (a repeated choice, an answer out of range, an empty or missing field) is
    skipped with a warning naming its file, line and field, and the skipped rows are counted;
    with ``strict`` the first one is raised instead. A source with no usable row is an error.

    ``path`` is, for the shared sources, the shared data folder (default: found by
    ``shared_data_dir``), the dataset's folder or one of its files; for ``jsonl`` the file;
    for Hub formats a local file or folder in the Hub's row format (default: the Hub).
    Duplicate questions (same content hash) are kept once.
    """
    if limit is not None and limit < 0:
        raise DataError("load_questions", f"must be >= 0, got {limit}", field="limit")
    spec = source_spec(source)
    drafts = _unique(_accepted(spec.load(path, split), spec.name, strict=strict))
    chosen = select(drafts, seed=seed, limit=limit)
    questions = [draft.build() for draft in chosen]
    return binarize_questions(questions, seed=seed) if binarize else questions


def _accepted(loaded: Loaded, source: str, *, strict: bool) -> list[QuestionDraft]:
    """The drafts of a load, after applying the policy for malformed rows."""
    if not loaded.skipped:
        return loaded.drafts
    first = loaded.skipped[0]
    if strict:
        raise first
    n = len(loaded.skipped)
    total = n + len(loaded.drafts)
    if not loaded.drafts:
        raise DataError(
            first.where,
            f"{first.problem} (no usable row: {n} of {total} malformed)",
            field=first.field,
            line=first.line,
            row=first.row,
        )
    for err in loaded.skipped[:SKIPS_SHOWN]:
        logger.warning("skipped malformed row: %s", err)
    logger.warning(
        "%s: skipped %d malformed of %d rows%s; set data.strict = true to fail on them instead",
        source,
        n,
        total,
        f" ({n - SKIPS_SHOWN} not shown)" if n > SKIPS_SHOWN else "",
    )
    return loaded.drafts


def select(drafts: list[QuestionDraft], *, seed: int, limit: int | None) -> list[QuestionDraft]:
    """The first ``limit`` drafts in a seeded order keyed by question id."""
    ordered = sorted(drafts, key=lambda d: (_rank(seed, d.id), d.id))
    return ordered if limit is None else ordered[:limit]


def _rank(seed: int, question_id: str) -> bytes:
    return hashlib.sha256(f"select\0{seed}\0{question_id}".encode()).digest()


def _unique(drafts: list[QuestionDraft]) -> list[QuestionDraft]:
    seen: dict[str, QuestionDraft] = {}
    for draft in drafts:
        seen.setdefault(draft.id, draft)
    if len(seen) < len(drafts):
        logger.info("kept %d of %d questions (duplicates dropped)", len(seen), len(drafts))
    return list(seen.values())
