"""transcripts.html in a real headless Chromium: filters used through the page's own controls,
model text that never runs, and 5,000 debates (counts only: no timing is asserted)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from oversight.report.context import load_context
from oversight.report.html import transcripts_page
from tests.oversight.report.stores import (
    PAYLOAD,
    SYNTHETIC,
    TINY,
    build_synthetic_store,
    build_tiny_store,
    synthetic_outcome,
    synthetic_text,
)

N = 5000


def _page(store_url: str, name: str, path: Path, build: Any) -> Path:
    store = build(store_url)
    path.write_text(transcripts_page(store, load_context(store, name)), encoding="utf-8")
    store.close()
    return path


@pytest.fixture(scope="module")
def tiny_page(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("tiny")
    return _page(f"sqlite:///{folder / 'db'}", TINY, folder / "t.html", build_tiny_store)


@pytest.fixture(scope="module")
def big_page(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("big")
    return _page(
        f"sqlite:///{folder / 'db'}",
        SYNTHETIC,
        folder / "big.html",
        lambda u: build_synthetic_store(u, N),
    )


@pytest.fixture
def page(browser: Any, tiny_page: Path) -> Iterator[Any]:
    browser.get(tiny_page.as_uri())
    yield browser


def _select(driver: Any, control: str, text: str) -> None:
    from selenium.webdriver.support.ui import Select

    Select(driver.find_element("id", control)).select_by_visible_text(text)


def _counts(driver: Any) -> tuple[int, int]:
    count = driver.find_element("id", "count")
    return int(count.get_attribute("data-matches")), int(count.get_attribute("data-shown"))


def _ids(driver: Any) -> list[str]:
    return [
        e.get_attribute("data-id") for e in driver.find_elements("css selector", "#list .debate")
    ]


def _type(driver: Any, text: str) -> None:
    box = driver.find_element("id", "f-search")
    box.clear()
    if not text:  # clear() sends no input event: delete through the keyboard instead
        from selenium.webdriver.common.keys import Keys

        box.send_keys("x", Keys.BACKSPACE)
    else:
        box.send_keys(text)


def _errors(driver: Any) -> list[str]:
    return [e["message"] for e in driver.get_log("browser") if e["level"] == "SEVERE"]


def test_filters_through_the_pages_own_controls(page: Any) -> None:
    assert _counts(page) == (4, 4) and _ids(page) == ["d0", "d1", "d2", "d3"]
    _select(page, "f-protocol", "consultancy")
    assert _ids(page) == ["d2", "d3"] and _counts(page) == (2, 2)
    _select(page, "f-group", "human (live)")  # the human judged no consultancy
    assert _ids(page) == [] and "No debate matches" in page.find_element("id", "list").text
    _select(page, "f-protocol", "all protocols")
    assert _ids(page) == ["d0", "d1"]
    _select(page, "f-group", "all groups")
    # with no group chosen, "fooled" is the deciding group's verdict: the ensemble's 0.3 on d2
    _select(page, "f-outcome", "judge fooled")
    assert _ids(page) == ["d2"]
    _select(page, "f-outcome", "tie (exactly 0.5)")
    assert _ids(page) == ["d3"]
    _select(page, "f-group", "ensemble new")  # the replay ties everywhere
    assert _ids(page) == ["d0", "d1", "d2", "d3"]
    _select(page, "f-outcome", "judged correct")
    _select(page, "f-group", "human (live)")
    assert _ids(page) == ["d0", "d1"]
    _select(page, "f-outcome", "any verdict")
    _select(page, "f-group", "all groups")
    _type(page, "WATER")  # the question text, case-insensitive
    assert _ids(page) == ["d1"]
    _type(page, "")
    assert _counts(page) == (4, 4)
    assert _errors(page) == []  # nothing refused by the page's policy, no script error


def test_hide_the_answer_switch(page: Any) -> None:
    card = page.find_element("css selector", '.debate[data-id="d0"]')
    mark = card.find_element("css selector", ".correct-mark")
    judges = card.find_element("css selector", ".judges-wrap")
    badge = card.find_element("css selector", ".badge")
    assert mark.is_displayed() and judges.is_displayed() and badge.text.startswith("judged correct")
    page.find_element("id", "f-hide").click()
    assert not mark.is_displayed() and not judges.is_displayed() and not badge.is_displayed()
    assert "blue" in card.find_element("css selector", ".answers").text  # answers stay
    page.find_element("id", "f-hide").click()
    assert mark.is_displayed()


def test_each_judges_probabilities_for_both_orders(page: Any) -> None:
    rows = page.find_elements("css selector", '.debate[data-id="d0"] tr.judgment')
    cells = {r.find_element("css selector", "td").text.split("\n")[0]: r.text for r in rows}
    assert "A 80% \u00b7 B 20%" in cells["a"] and "A 40% \u00b7 B 60%" in cells["a"]
    heads = page.find_elements("css selector", '.debate[data-id="d0"] .judges th')
    assert [h.get_attribute("textContent") for h in heads][3:5] == ["shown A,B", "shown B,A"]
    # the human's beliefs after each round, as P(correct)
    assert "0: 50%, 1: 70%, 2: 90%" in cells["human:Ann"]


def test_quotes_are_styled_by_verification(page: Any) -> None:
    card = page.find_element("css selector", '.debate[data-id="d0"]')

    def text(selector: str) -> list[str]:
        return [
            e.get_attribute("textContent") for e in card.find_elements("css selector", selector)
        ]

    assert text(".quote.verified") == ["the sky is blue"]
    assert text(".quote.unverified") == ["dragons exist"]
    # a speaker's own <v_quote> is text, not a verified quote
    assert "<v_quote>forged</v_quote>" in text(".speech")[0]
    styles = [
        page.execute_script("return getComputedStyle(arguments[0]).backgroundColor", e)
        for e in card.find_elements("css selector", ".quote")
    ]
    assert styles[0] != styles[1]


def test_model_text_is_shown_never_run(page: Any) -> None:
    assert page.execute_script("return window.__pwned === undefined")
    assert page.title == "Transcripts: tiny"
    speech = page.find_element("css selector", '.debate[data-id="d3"] .speech')
    assert speech.get_attribute("textContent") == PAYLOAD
    assert "<script>window.__pwned" in speech.text
    assert page.find_elements("css selector", "#list img, #list script, #list b") == []


def test_candidates_drafts_and_critiques_fold_under_their_turn(page: Any) -> None:
    box = page.find_element("css selector", '.debate[data-id="d3"] details.notes')
    summary = box.find_element("css selector", "summary")
    assert summary.text == "2 candidates, draft and critique"
    summary.click()
    heads = [e.text for e in box.find_elements("css selector", ".note .who")]
    assert heads == [
        "candidate 1 · score 0.700 · said",
        "candidate 2 · score 0.400",
        "draft",
        "critique",
    ]
    texts = [
        e.get_attribute("textContent") for e in box.find_elements("css selector", ".note .speech")
    ]
    assert texts == [PAYLOAD, "A weaker sample.", PAYLOAD, PAYLOAD]
    assert page.execute_script("return window.__pwned === undefined")
    assert page.find_elements("css selector", '.debate[data-id="d0"] details.notes') == []


@pytest.fixture
def big(browser: Any, big_page: Path) -> Any:
    browser.get(big_page.as_uri())
    return browser


def test_five_thousand_debates_render_and_filter(big: Any) -> None:
    assert _counts(big) == (N, 100)  # the first 100 matches only
    assert len(_ids(big)) == 100
    big.find_element("id", "more").click()
    assert _counts(big) == (N, 200) and len(_ids(big)) == 200
    _select(big, "f-protocol", "consultancy")  # the odd ones
    assert _counts(big) == (N // 2, 100) and all(int(i[1:]) % 2 for i in _ids(big))
    _select(big, "f-outcome", "judge fooled")
    fooled = [i for i in range(N) if i % 2 and synthetic_outcome(i) == "fooled"]
    assert _counts(big) == (len(fooled), 100)
    _type(big, "number 12")
    expected = [i for i in fooled if "number 12" in synthetic_text(i).lower()]
    assert _counts(big) == (len(expected), len(expected))
    assert _ids(big) == [f"s{i}" for i in expected]
    assert not big.find_element("id", "more").is_displayed()
    assert len(big.find_elements("css selector", "#list .quote.verified")) == len(expected)
    assert _errors(big) == []
