"""Rendering PTB tokens to text, and quotes as exact substrings of the rendering."""

import pytest

from oversight.transcripts.ptb import render_tokens, unescape

TOKENS = ["``", "Hello", ",", "''", "he", "said", "-LRB-", "quietly", "-RRB-", ".", "\n", "\n",
          "It", "is", "n't", "John", "'s", "--", "really", "!"]


def test_tokens_render_with_natural_spacing() -> None:
    text = render_tokens(TOKENS).text
    assert text == '"Hello," he said (quietly).\n\nIt isn\'t John\'s--really!'


def test_spans_are_exact_substrings_of_the_text() -> None:
    rendered = render_tokens(TOKENS)
    assert rendered.span_text(4, 10) == "he said (quietly)."
    assert rendered.span_text(12, 17) == "It isn't John's"
    assert rendered.span_text(3, 3) == ""
    for begin in range(len(TOKENS)):
        for end in range(begin + 1, len(TOKENS) + 1):
            assert rendered.span_text(begin, end) in rendered.text
    with pytest.raises(IndexError):
        rendered.span_text(5, len(TOKENS) + 1)


def test_unescape() -> None:
    assert [unescape(t) for t in ["-LSB-", "-RCB-", "``", "a\\/b", "word"]] == [
        "[", "}", '"', "a/b", "word"]
