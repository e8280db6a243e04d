"""Quotes from the hidden context, checked against it (as in Khan et al. 2024).

Speakers quote with ``<quote>...</quote>``. A quote is verified when its whitespace-normalized
text occurs in the context; judges are shown verified quotes as ``<v_quote>`` and the rest as
``<u_quote>`` so that an invented quote is visible.

Speeches are untrusted: a debater may write ``<v_quote>`` itself, or nest and unbalance quote
tags, to pass an invented quote off as verified. :func:`mark_quotes` therefore escapes every
tag-like spelling of the system's tags in the speech (:func:`escape_tags`) before it writes its
own, so the only ``v_quote``/``u_quote`` tags a judge reads are the ones it wrote.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from typing import Any

QUOTE_RE = re.compile(r"<quote>(.*?)</quote>", re.DOTALL)
QUOTE_TAGS: tuple[str, ...] = ("quote", "v_quote", "u_quote")
"""Tag names with a meaning to the system: the speakers' quotes and the judges' marks."""
TAG_OPENERS = "<\uff1c\ufe64"
"""``<`` and the look-alikes a reader may take for it (fullwidth and small less-than)."""
ESCAPED_OPENER = "&lt;"
"""What an opener of a reserved tag becomes: as in HTML, a ``<`` that is text, not markup."""


def _norm(text: str) -> str:
    return " ".join(text.replace("\u2019", "'").split()).lower().strip(" .,;:\"'")


def _verified(quote: str, norm_ctx: str) -> bool:
    return bool(norm_ctx) and bool(_norm(quote)) and _norm(quote) in norm_ctx


def extract_quotes(text: str, context: str | None) -> list[dict[str, Any]]:
    norm_ctx = _norm(context) if context else ""
    return [
        {"text": m.group(1), "verified": _verified(m.group(1), norm_ctx)}
        for m in QUOTE_RE.finditer(text)
    ]


@functools.lru_cache(maxsize=16)
def _tag_pattern(names: frozenset[str]) -> re.Pattern[str]:
    alternatives = "|".join(re.escape(n) for n in sorted(names, key=len, reverse=True))
    # An opener, then optional "/" and spaces, then a reserved name that is a whole word: "<
    # /V_Quote >", "＜speech", and a tag left unclosed all count; "<quotes>" does not.
    return re.compile(rf"[{TAG_OPENERS}](?=\s*/?\s*(?:{alternatives})(?![\w-]))", re.IGNORECASE)


def escape_tags(text: str, names: Iterable[str] = QUOTE_TAGS) -> str:
    """``text`` with the opener of every tag named in ``names`` written as ``&lt;``.

    Only those tags are touched ("x < 3" stays as it is), in any case, spacing or look-alike
    bracket, closed or not. Escaping is idempotent: escaped text is left as it is.
    """
    return _tag_pattern(frozenset(names)).sub(ESCAPED_OPENER, text)


def mark_quotes(text: str, context: str | None, *, reserved: Iterable[str] = ()) -> str:
    """Rewrite quote tags as verified or unverified for a judge.

    Each ``<quote>...</quote>`` (the first closing tag ends it, as in :func:`extract_quotes`)
    becomes ``<v_quote>`` or ``<u_quote>``; everything else that looks like one of
    :data:`QUOTE_TAGS` or the ``reserved`` tags (a stray or nested ``<quote>``, a forged
    ``<v_quote>``, a transcript delimiter) is escaped, inside quotes as well as outside.
    """
    names = (*QUOTE_TAGS, *reserved)
    norm_ctx = _norm(context) if context else ""
    out: list[str] = []
    pos = 0
    for m in QUOTE_RE.finditer(text):
        out.append(escape_tags(text[pos : m.start()], names))
        tag = "v_quote" if _verified(m.group(1), norm_ctx) else "u_quote"
        out.append(f"<{tag}>{escape_tags(m.group(1), names)}</{tag}>")
        pos = m.end()
    out.append(escape_tags(text[pos:], names))
    return "".join(out)
