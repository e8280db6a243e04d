"""Rendering Penn-Treebank-style tokens back to readable text, with the offset of every token.

The NYU debate files store each story as a list of CoreNLP tokens (``-LSB-``, ``''``, ``n't``)
and every quote as a token span into it. Judges and verifiers need text, and a quote must be
an exact substring of the story text so that quote verification (``agents.quotes``) accepts
it. So the story is rendered once, remembering where each token landed, and a quote is cut
out of that rendering rather than rendered on its own.

The spacing rules follow the ones the debate web app used to show the story
(``jjm.ling.Text.renderTokens`` in ``julianmichael/jjm``), so the text is what the
participants read; newline tokens, which the app spaced like words, are kept as line breaks
with no spaces around them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

_PTB_ESCAPES = {
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
}

# Compared against the unescaped token, as the app did.
_NO_SPACE_BEFORE = frozenset(
    [".", ",", "!", "?", ";", ":", "n't", "'s", "'re", "'ve", "'ll", "na", "'m", "'d",
     "%", "-", "--", "+", ")", "]", "}", "°"]
)
_NO_SPACE_AFTER = frozenset(["$", "£", "€", "#", "-", "--", "(", "[", "{"])
_SINGLE_QUOTES = frozenset(["'", "`"])
_DOUBLE_QUOTES = frozenset(["''", "``", '"'])


def unescape(token: str) -> str:
    """The text a PTB token stands for (``-LSB-`` is ``[``, ``''`` is ``"``)."""
    return _PTB_ESCAPES.get(token, token.replace("\\/", "/"))


@dataclass(frozen=True)
class RenderedTokens:
    """Text rendered from tokens, and the ``[start, end)`` character range of each token."""

    text: str
    starts: list[int]
    ends: list[int]

    def span_text(self, begin: int, end: int) -> str:
        """The text of tokens ``[begin, end)``: an exact substring of :attr:`text`."""
        if not 0 <= begin <= end <= len(self.starts):
            raise IndexError(f"span [{begin}, {end}) outside 0..{len(self.starts)} tokens")
        if begin == end:
            return ""
        return self.text[self.starts[begin] : self.ends[end - 1]]


def render_tokens(tokens: Sequence[str]) -> RenderedTokens:
    """Render tokens with natural spacing; see the module docstring for the rules."""
    parts: list[str] = []
    length = 0
    starts: list[int] = []
    ends: list[int] = []
    skip_space = True
    in_single = in_double = False
    lone_single_quote = sum(t in _SINGLE_QUOTES for t in tokens) == 1
    for token in tokens:
        word = unescape(token)
        if token and not token.strip():  # a line break (or other whitespace) token
            parts.append(token)
            starts.append(length)
            length += len(token)
            ends.append(length)
            skip_space = True
            continue
        if lone_single_quote and token == "'":
            skip_before, skip_after = True, False
        else:
            skip_before = (
                skip_space
                or (in_single and token == "'")
                or (in_double and token in ("''", '"'))
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
