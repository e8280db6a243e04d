"""Rendering Penn-Treebank-style tokens to text as the NYU debate platform showed them.

The NYU debate files store each story as a list of CoreNLP tokens (``-LSB-``, ``''``, ``n't``)
and every quote as a token span into it. The platform (``julianmichael/debate``) turns tokens
into text with ``jjm.ling.Text.render`` (``julianmichael/jjm``, ``jjm/src/ling/Text.scala``,
``renderTokensM`` and ``normalizeToken``), the story as a whole (``story`` in
``debate/src-jvm/ReadableDebate.scala``) and each quote on its own (``Utils.renderSpan``); the
rules here re-implement that function:

- each token is normalized (``normalizeToken``): ``-LSB-`` is ``[``, the PTB double quotes
  are ``"``, the PTB open single quote is ``'``, ``--`` is ``-``, an escaped slash is ``/``;
- no space goes before a token whose normalized form is in :data:`_NO_SPACE_BEFORE`, and none
  after one in :data:`_NO_SPACE_AFTER` (``noSpaceBefore``, ``noSpaceAfter``);
- quotation marks open and close in turn, hugging the text they enclose; a story with exactly
  one single-quote token treats it as an apostrophe (``hasSingleQuoteOnly``);
- ``%pw`` tokens are not shown (``hidden``).

One adaptation, for whitespace: the platform shows a newline token as a line break
(``debate/src-js/view/debate/StoryPanel.scala`` renders it as ``<br>``,
``DebateRoundView.breakNewlines`` splits quotes on it) in HTML that collapses the spaces next
to a line break, so a whitespace token is kept as it is with no spaces around it, and an
empty token adds no space. The text is therefore what participants saw on screen.

The story is rendered once, remembering where each token landed, so that a quote can be cut
out of that rendering as an exact substring (what quote verification in ``oversight.quotes``
checks); :func:`render_span` gives the platform's own rendering of a quote, which renders the
quoted tokens on their own and so can differ in the spaces beside quotation marks.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

# jjm Text.normalizeToken, case by case.
_NORMALIZED = {
    "`": "'",
    "``": '"',
    "''": '"',
    "-LRB-": "(",
    "-RRB-": ")",
    "-LCB-": "{",
    "-RCB-": "}",
    "-LSB-": "[",
    "-RSB-": "]",
    "/.": ".",
    "/?": "?",
    "/-": "-",
    "--": "-",
}

# jjm Text.noSpaceBefore / noSpaceAfter, verbatim; like jjm, they are looked up with the
# normalized token (so some entries, such as "''", can never match).
_NO_SPACE_BEFORE = frozenset(
    [
        ".",
        ",",
        "!",
        "?",
        ";",
        ":",
        "''",
        "n't",
        "'s",
        "'re",
        "'ve",
        "'ll",
        "na",
        "'m",
        "'d",
        "%",
        "-",
        "+",
        "-RRB-",
        "-RCB-",
        "-RSB-",
        ")",
        "]",
        "}",
        "/.",
        "/?",
        "°",
    ]
)
_NO_SPACE_AFTER = frozenset(
    ["``", "$", "£", "€", "#", "-", "-LRB-", "-LCB-", "-LSB-", "(", "[", "{"]
)
_HIDDEN = frozenset(["%pw"])  # jjm Text.hidden
_SINGLE_QUOTES = frozenset(["'", "`"])
_DOUBLE_QUOTES = frozenset(["''", "``", '"'])


def unescape(token: str) -> str:
    """The text a PTB token stands for (jjm ``Text.normalizeToken``)."""
    return _NORMALIZED.get(token, token.replace("\\/", "/"))


def clamp_span(begin: int, end: int, n_tokens: int) -> tuple[int, int]:
    """The tokens ``[begin, end)`` that a slice of ``n_tokens`` tokens really holds.

    The platform renders a quote as ``tokens.slice(span.begin, span.endExclusive)``
    (``debate/src/Utils.scala``, ``Utils.renderSpan``), and a Scala ``Vector.slice`` clamps
    both ends into the vector and is empty when the end is not after the beginning, so a span
    that runs past the story quotes up to its last token.
    """
    lo = min(max(begin, 0), n_tokens)
    hi = min(max(end, lo), n_tokens)
    return lo, hi


@dataclass(frozen=True)
class RenderedTokens:
    """Text rendered from tokens, and the ``[start, end)`` character range of each token."""

    text: str
    starts: list[int]
    ends: list[int]

    def span_text(self, begin: int, end: int) -> str:
        """The text of tokens ``[begin, end)`` clamped as the platform slices them.

        An exact substring of :attr:`text`; see :func:`clamp_span`.
        """
        lo, hi = clamp_span(begin, end, len(self.starts))
        if lo == hi:
            return ""
        return self.text[self.starts[lo] : self.ends[hi - 1]]


def render_tokens(tokens: Sequence[str]) -> RenderedTokens:
    """Render tokens as the platform shows them; see the module docstring for the rules."""
    parts: list[str] = []
    length = 0
    starts: list[int] = []
    ends: list[int] = []
    skip_space = True
    in_single = in_double = False
    lone_single_quote = sum(t in _SINGLE_QUOTES for t in tokens) == 1
    for token in tokens:
        if token in _HIDDEN:
            starts.append(length)
            ends.append(length)
            continue
        if token and not token.strip():  # a line break (or other whitespace) token
            parts.append(token)
            starts.append(length)
            length += len(token)
            ends.append(length)
            skip_space = True
            continue
        word = unescape(token)
        if lone_single_quote and token == "'":
            skip_before, skip_after = True, False
            in_single = False
        else:
            skip_before = (
                skip_space or (in_single and token == "'") or (in_double and token in ("''", '"'))
            )
            skip_after = (
                word in _NO_SPACE_AFTER
                or (not in_single and token in _SINGLE_QUOTES)
                or (not in_double and token in ("``", '"'))
            )
            in_single ^= token in _SINGLE_QUOTES
            in_double ^= token in _DOUBLE_QUOTES
        if not (skip_before or word in _NO_SPACE_BEFORE) and word:
            parts.append(" ")
            length += 1
        starts.append(length)
        parts.append(word)
        length += len(word)
        ends.append(length)
        skip_space = skip_after
    return RenderedTokens("".join(parts), starts, ends)


def render_span(tokens: Sequence[str], begin: int, end: int) -> str:
    """A quote as the platform shows it: the clamped slice of tokens rendered on its own.

    ``Utils.renderSpan`` in ``debate/src/Utils.scala`` (shown by
    ``DebateRoundView.quoteToHTML``, written out by ``SpeechSegments.getSpeechString``).
    """
    lo, hi = clamp_span(begin, end, len(tokens))
    return render_tokens(tokens[lo:hi]).text
