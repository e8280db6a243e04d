"""Quotes from the hidden context, checked against it (as in Khan et al. 2024).

Speakers quote with ``<quote>...</quote>``. A quote is verified when its whitespace-normalized
text occurs in the context; judges are shown verified quotes as ``<v_quote>`` and the rest as
``<u_quote>`` so that an invented quote is visible.
"""

from __future__ import annotations

import re
from typing import Any

QUOTE_RE = re.compile(r"<quote>(.*?)</quote>", re.DOTALL)


def _norm(text: str) -> str:
    return " ".join(text.replace("\u2019", "'").split()).lower().strip(" .,;:\"'")


def extract_quotes(text: str, context: str | None) -> list[dict[str, Any]]:
    norm_ctx = _norm(context) if context else ""
    out = []
    for m in QUOTE_RE.finditer(text):
        quote = m.group(1)
        verified = bool(norm_ctx) and bool(_norm(quote)) and _norm(quote) in norm_ctx
        out.append({"text": quote, "verified": verified})
    return out


def mark_quotes(text: str, context: str | None) -> str:
    """Rewrite quote tags as verified or unverified for a judge."""

    def repl(m: re.Match[str]) -> str:
        verified = extract_quotes(m.group(0), context)[0]["verified"]
        tag = "v_quote" if verified else "u_quote"
        return f"<{tag}>{m.group(1)}</{tag}>"

    return QUOTE_RE.sub(repl, text)
