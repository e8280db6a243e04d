"""Quotes from the hidden context, checked against it (as in Khan et al. 2024).

Speakers quote with ``<quote>...</quote>``. A quote is verified when its whitespace-normalized
text occurs in the context; judges are shown verified quotes as ``<v_quote>`` and the rest as
``<u_quote>`` so that an invented quote is visible.

Speeches are untrusted: a debater may write ``<v_quote>`` itself, or nest and unbalance quote
tags, to pass an invented quote off as verified. :func:`mark_quotes` therefore escapes every
tag-like spelling of the system's tags in the speech (:func:`escape_tags`) before it writes its
own, so the only ``v_quote``/``u_quote`` tags a judge reads are the ones it wrote.

Exact matching fails a quote that is off by a word or a letter, the commonest complaint about
it, so each quote also gets a ``match`` score (:func:`match_score`) beside ``verified``; and a
protocol may cap the quoted words of a speech (:func:`apply_quote_budget`).
"""

from __future__ import annotations

import functools
import re
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from difflib import SequenceMatcher
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


MATCH_STARTS = 3
"""Places in the context where :func:`match_score` compares a quote in full."""
_PUNCT = ".,;:!?\"'()[]{}-"


def _key(word: str) -> str:
    return word.strip(_PUNCT)


def _span_ratio(quote: str, window: str) -> float:
    """``2 * matched / (len(quote) + len(span))``, the span being ``window`` trimmed to its
    first and last matched characters and counted as at least as long as the quote."""
    blocks = SequenceMatcher(None, quote, window, autojunk=False).get_matching_blocks()
    used = [b for b in blocks if b.size]
    if not used:
        return 0.0
    matched = sum(b.size for b in used)
    span = used[-1].b + used[-1].size - used[0].b
    return 2 * matched / (len(quote) + max(span, len(quote)))


def _starts(quote: list[str], ctx: list[str], apart: int) -> list[int]:
    """Where in ``ctx`` the quote most likely starts: each quote word ``i`` found at context
    word ``j`` votes for ``j - i``; the best-voted starts at least ``apart`` words apart."""
    at: defaultdict[str, list[int]] = defaultdict(list)
    for j, word in enumerate(ctx):
        at[_key(word)].append(j)
    votes: Counter[int] = Counter()
    for i, word in enumerate(quote):
        for j in at.get(_key(word), ()):
            votes[j - i] += 1
    chosen: list[int] = []
    for start, _ in votes.most_common():
        if all(abs(start - c) > apart for c in chosen):
            chosen.append(start)
            if len(chosen) == MATCH_STARTS:
                break
    return chosen or [0]


def _match(norm_quote: str, norm_ctx: str) -> float:
    """:func:`match_score` on texts already normalized by ``_norm``."""
    if not norm_quote or not norm_ctx:
        return 0.0
    if norm_quote in norm_ctx:
        return 1.0
    quote, ctx = norm_quote.split(), norm_ctx.split()
    slack = max(2, len(quote) // 10)
    best = 0.0
    for start in _starts(quote, ctx, slack):
        lo, hi = max(0, start - slack), max(0, start + len(quote) + slack)
        best = max(best, _span_ratio(norm_quote, " ".join(ctx[lo:hi])))
    return best


def match_score(quote: str, context: str | None) -> float:
    """How closely the best-matching span of ``context`` matches ``quote``, in [0, 1].

    Both texts are normalized as for ``verified`` (whitespace collapsed, lower case, curly
    apostrophes straightened, surrounding punctuation dropped). A quote found exactly scores
    1.0. Otherwise the score is ``2 * M / (len(quote) + len(span))`` in characters: ``M`` is
    the characters difflib's ``SequenceMatcher`` matches between the quote and a window of the
    context, and the span runs from the first to the last matched character of the window,
    counted as at least as long as the quote (so a few scattered letters do not score high).
    Only an exact occurrence scores 1.0. An empty quote or context scores 0.0.

    The work is bounded, so that a 100-word quote in a 5,000-word passage is scored in tens of
    milliseconds: the context's words vote for where the quote starts (quote word ``i`` found
    at context word ``j`` votes for ``j - i``, punctuation around words ignored), and only
    the :data:`MATCH_STARTS` best-voted places are compared, each as one window of the quote's
    word count plus a tenth of it (at least two words) on either side, so a dropped or added
    word still aligns. Voting is one pass over the context and the occurrences of the quote's
    words; each comparison is of strings of about the quote's length.
    """
    return _match(_norm(quote), _norm(context) if context else "")


def extract_quotes(text: str, context: str | None) -> list[dict[str, Any]]:
    """The ``<quote>`` spans of a speech with ``verified`` (exact, after normalizing) and
    ``match`` (:func:`match_score`) against the hidden context, as stored on a Turn."""
    norm_ctx = _norm(context) if context else ""
    quotes: list[dict[str, Any]] = []
    for m in QUOTE_RE.finditer(text):
        norm_quote = _norm(m.group(1))
        quotes.append(
            {
                "text": m.group(1),
                "verified": _verified(m.group(1), norm_ctx),
                "match": _match(norm_quote, norm_ctx),
            }
        )
    return quotes


@dataclass(frozen=True)
class BudgetedQuote:
    """One quote of a speech under a quote budget: its words, and whether it stayed a quote."""

    text: str
    words: int
    kept: bool


def apply_quote_budget(text: str, budget_words: int) -> tuple[str, list[BudgetedQuote]]:
    """``text`` with quotes kept, in order, while their words fit in ``budget_words``.

    Words are whitespace-separated, counted in each quote whether it matches the context or
    not (a budget limits how much of the source a speaker may show). The first quote that does
    not fit, and every quote after it, stops being quote markup: its ``<quote>`` tags are
    removed and any quote tag inside it is escaped (:func:`escape_tags`), so its words stay in
    the speech as plain text and can never be marked verified. Every quote is returned with
    whether it was kept, in speaking order.
    """
    if budget_words < 0:
        raise ValueError(f"quote_budget: must be >= 0 words, got {budget_words}")
    out: list[str] = []
    record: list[BudgetedQuote] = []
    left = budget_words
    spent = False
    pos = 0
    for m in QUOTE_RE.finditer(text):
        inner = m.group(1)
        words = len(inner.split())
        keep = not spent and words <= left
        spent = not keep
        left -= words if keep else 0
        out.append(text[pos : m.start()])
        out.append(m.group(0) if keep else escape_tags(inner))
        record.append(BudgetedQuote(inner, words, keep))
        pos = m.end()
    out.append(text[pos:])
    return "".join(out), record


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
