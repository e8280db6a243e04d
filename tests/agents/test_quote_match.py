"""The quote-match score beside the exact ``verified`` flag, and the per-speech quote budget."""

from __future__ import annotations

import random
import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from oversight.quotes import (
    QUOTE_RE,
    apply_quote_budget,
    extract_quotes,
    mark_quotes,
    match_score,
)

CTX = "Yesterday the cat sat on the mat."


@pytest.mark.parametrize(
    ("quote", "expected"),
    [
        # Exact after normalizing (case, spacing, surrounding punctuation): 1.0.
        ("The  CAT sat on the mat.", 1.0),
        # "teh" for "the": 21 of 22 characters match, span 22 -> 2*21 / (22+22).
        ("the cat sat on teh mat", 42 / 44),
        # An added word: "the cat sat on the " + "mat" = 22 matched; the span (22) counts as
        # the quote's 26 characters -> 2*22 / (26+26).
        ("the cat sat on the red mat", 44 / 52),
        # "dog" for "cat" (no letter in common): "the " + " sat on the mat" = 19 -> 38/44.
        ("the dog sat on the mat", 38 / 44),
        # One letter ("y" of "yesterday") of three -> 2*1 / (3+3).
        ("xyz", 2 / 6),
        # Not one letter in common.
        ("qqq", 0.0),
    ],
)
def test_match_score_hand_computed(quote: str, expected: float) -> None:
    assert match_score(quote, CTX) == pytest.approx(expected)


def test_a_quote_longer_than_the_context_is_compared_with_all_of_it() -> None:
    # "the " + "mat" = 7 matched; the span "the mat" counts as the quote's 11 -> 2*7 / (11+11).
    assert match_score("the red mat", "the mat") == pytest.approx(14 / 22)


def test_empty_quote_or_context_scores_zero() -> None:
    assert match_score("anything", None) == 0.0
    assert match_score("anything", "") == 0.0
    assert match_score("  ...  ", CTX) == 0.0


def test_extract_quotes_stores_match_beside_verified() -> None:
    text = "<quote>the cat sat on teh mat</quote> and <quote>the cat sat</quote>"
    near, exact = extract_quotes(text, CTX)
    assert near == {"text": "the cat sat on teh mat", "verified": False, "match": 42 / 44}
    assert exact == {"text": "the cat sat", "verified": True, "match": 1.0}


def test_a_near_miss_far_into_a_long_passage_is_found_quickly() -> None:
    rng = random.Random(0)
    vocab = ["the", "a", "of", "and", "ship", "moon", "said", "to", "in", "was"]
    vocab += [f"word{i}" for i in range(3000)]
    words = [rng.choice(vocab) for _ in range(5000)]
    passage = " ".join(words)
    quote = words[3700:3800]
    quote[40] = "changed"  # one word substituted
    start = time.perf_counter()
    score = match_score(" ".join(quote), passage)
    elapsed = time.perf_counter() - start
    assert 0.95 < score < 1.0
    assert match_score(" ".join(words[3700:3800]), passage) == 1.0
    assert elapsed < 1.0  # bounded work: a few windows, not every span of the passage


WORDS = st.lists(st.sampled_from(["the", "cat", "sat", "on", "mat", "a", "dog", "ran", "Red,"]))


@given(WORDS.filter(bool), st.data())
def test_an_exact_substring_scores_one(words: list[str], data: st.DataObject) -> None:
    context = " ".join(words)
    i = data.draw(st.integers(0, len(words) - 1))
    j = data.draw(st.integers(i + 1, len(words)))
    assert match_score(" ".join(words[i:j]), context) == 1.0


@given(st.text(max_size=60), st.text(max_size=200))
def test_score_is_in_unit_interval_and_one_only_when_verified(quote: str, context: str) -> None:
    (q,) = extract_quotes(f"<quote>{quote.replace('</quote>', '')}</quote>", context)
    assert 0.0 <= q["match"] <= 1.0
    assert (q["match"] == 1.0) == q["verified"]


def test_quotes_are_kept_in_order_until_the_budget_is_spent() -> None:
    text = (
        "First <quote>one two three</quote>, then <quote>four five</quote>, "
        "then <quote>six</quote>."
    )
    out, quotes = apply_quote_budget(text, 4)
    # 3 words fit (1 left); "four five" (2) does not, so it and everything after lose markup.
    assert [(q.text, q.words, q.kept) for q in quotes] == [
        ("one two three", 3, True),
        ("four five", 2, False),
        ("six", 1, False),
    ]
    assert out == "First <quote>one two three</quote>, then four five, then six."
    assert apply_quote_budget(text, 6)[0] == text
    assert apply_quote_budget(text, 0)[0] == "First one two three, then four five, then six."


def test_a_negative_budget_is_refused() -> None:
    with pytest.raises(ValueError, match="quote_budget: must be >= 0"):
        apply_quote_budget("x", -1)


def test_a_cut_quote_cannot_become_a_verified_quote() -> None:
    # The cut quote holds a nested opener; without escaping it would pair with the stray
    # closing tag after it and form a new quote of the context's words.
    ctx = "the cat sat on the mat"
    text = "<quote>the cat</quote> <quote><quote>sat on</quote> the mat</quote>"
    out, quotes = apply_quote_budget(text, 2)
    assert [q.kept for q in quotes] == [True, False]
    assert [q["text"] for q in extract_quotes(out, ctx)] == ["the cat"]
    assert mark_quotes(out, ctx).count("<v_quote>") == 1


@given(st.lists(st.tuples(st.text(max_size=15), st.text(max_size=15))), st.integers(0, 12))
def test_budgeted_text_holds_exactly_the_kept_quotes(
    parts: list[tuple[str, str]], budget: int
) -> None:
    text = "".join(f"{plain}<quote>{inner}</quote>" for plain, inner in parts)
    out, quotes = apply_quote_budget(text, budget)
    kept = [q.text for q in quotes if q.kept]
    assert [m.group(1) for m in QUOTE_RE.finditer(out)] == kept
    assert sum(q.words for q in quotes if q.kept) <= budget
    flags = [q.kept for q in quotes]
    assert flags == sorted(flags, reverse=True)  # once one is cut, all later ones are
