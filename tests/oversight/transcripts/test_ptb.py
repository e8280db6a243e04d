"""Rendering PTB tokens as the debate platform shows them, and quotes clamped as it clamps them."""

from oversight.transcripts.ptb import clamp_span, render_span, render_tokens, unescape

TOKENS = [
    "``",
    "Hello",
    ",",
    "''",
    "he",
    "said",
    "-LRB-",
    "quietly",
    "-RRB-",
    ".",
    "\n",
    "\n",
    "It",
    "is",
    "n't",
    "John",
    "'s",
    "--",
    "really",
    "!",
]


def test_tokens_render_as_jjm_renders_them() -> None:
    # jjm Text.normalizeToken writes "--" as "-", and "-" takes no space on either side.
    text = render_tokens(TOKENS).text
    assert text == "\"Hello,\" he said (quietly).\n\nIt isn't John's-really!"


def test_quote_marks_hidden_tokens_and_a_lone_apostrophe() -> None:
    # Quotation marks hug what they enclose, in turn; "%pw" is never shown.
    assert render_tokens(["He", "said", "`", "no", "'", "%pw", "."]).text == "He said 'no'."
    # With exactly one single-quote token in the list it is an apostrophe: no space before,
    # a space after (jjm's hasSingleQuoteOnly); with two they open and close a quotation.
    assert render_tokens(["the", "dogs", "'", "tails"]).text == "the dogs' tails"
    assert render_tokens(["dogs", "'", "tails", "'", "x"]).text == "dogs 'tails' x"


def test_spans_are_exact_substrings_of_the_text() -> None:
    rendered = render_tokens(TOKENS)
    assert rendered.span_text(4, 10) == "he said (quietly)."
    assert rendered.span_text(12, 17) == "It isn't John's"
    assert rendered.span_text(3, 3) == ""
    for begin in range(len(TOKENS)):
        for end in range(begin + 1, len(TOKENS) + 1):
            assert rendered.span_text(begin, end) in rendered.text


def test_spans_clamp_like_a_scala_slice() -> None:
    rendered = render_tokens(TOKENS)
    n = len(TOKENS)
    assert clamp_span(15, n + 5, n) == (15, n)
    assert clamp_span(-3, 2, n) == (0, 2)
    assert clamp_span(n + 1, n + 9, n) == (n, n)
    assert clamp_span(7, 3, n) == (7, 7)
    assert rendered.span_text(15, 10_000) == "John's-really!"
    assert rendered.span_text(-4, 2) == '"Hello'
    assert rendered.span_text(n + 1, n + 9) == ""


def test_the_platform_renders_a_quote_on_its_own() -> None:
    # Utils.renderSpan renders the sliced tokens alone: a quote that starts inside a quotation
    # sees its closing mark as an opening one, unlike the same tokens inside the story.
    tokens = ["``", "Go", ",", "''", "he", "said", "."]
    assert render_tokens(tokens).span_text(1, 5) == 'Go," he'
    assert render_span(tokens, 1, 5) == 'Go, " he'
    assert render_span(tokens, 4, 99) == "he said."


def test_unescape() -> None:
    assert [unescape(t) for t in ["-LSB-", "-RCB-", "``", "a\\/b", "--", "word"]] == [
        "[",
        "}",
        '"',
        "a/b",
        "-",
        "word",
    ]
