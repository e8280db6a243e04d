"""The transcript page's data and markup, without a browser."""

from __future__ import annotations

import base64
import hashlib
import json
import re

import pytest

from oversight.report.context import load_context
from oversight.report.groups import HUMAN
from oversight.report.html import page_data, script_json, segments, transcripts_page
from oversight.report.summary import ENSEMBLE
from oversight.store import Store
from tests.oversight.report.stores import PAYLOAD, TINY


def test_script_json_cannot_close_its_element() -> None:
    text = script_json({"t": "</script><!-- & \u2028", "nan": float("nan")})
    assert "<" not in text and ">" not in text and "&" not in text and "\u2028" not in text
    assert json.loads(text) == {"t": "</script><!-- & \u2028", "nan": None}


def test_segments_style_quotes_by_their_stored_flags() -> None:
    text = "A <quote>seen</quote>, B <quote>invented</quote> <v_quote>forged</v_quote>"
    quotes = [{"text": "seen", "verified": True}, {"text": "invented", "verified": False}]
    assert segments(text, quotes, None) == [
        ["t", "A "],
        ["v", "seen"],
        ["t", ", B "],
        ["u", "invented"],
        ["t", " <v_quote>forged</v_quote>"],  # a forged mark stays text
    ]


def test_segments_check_quotes_again_when_the_stored_list_does_not_line_up() -> None:
    got = segments("<quote>blue sky</quote><quote>red sky</quote>", [], "The blue sky.")
    assert got == [["v", "blue sky"], ["u", "red sky"]]


def test_page_data_holds_each_groups_verdict(tiny_store: Store) -> None:
    data = page_data(load_context(tiny_store, TINY), {}, "rules")
    labels = [g["label"] for g in data["groups"]]
    assert labels == [ENSEMBLE, "ensemble new", HUMAN]
    assert data["deciding"] == 0
    verdicts = {d["id"]: d["verdicts"] for d in data["debates"]}
    # P(correct) per group: the ensemble's mean, the replay's 0.5, the human's own
    assert verdicts["d0"] == [pytest.approx(0.6), 0.5, 0.9]
    assert verdicts["d1"] == [pytest.approx(0.65), 0.5, 0.8]
    assert verdicts["d2"] == [pytest.approx(0.3), 0.5, None]
    ann = next(j for j in data["debates"][0]["judgments"] if j["judge"] == "human:Ann")
    assert ann["beliefs"] == [[0, [0.5, 0.5]], [1, [0.7, 0.3]], [2, [0.9, 0.1]]]
    a = next(j for j in data["debates"][0]["judgments"] if j["judge"] == "a")
    assert a["orders"] == {"0,1": [0.8, 0.2], "1,0": [0.4, 0.6]}


def test_page_is_self_contained_and_inert(tiny_store: Store) -> None:
    page = transcripts_page(tiny_store, load_context(tiny_store, TINY))
    data = page.split('id="report-data">')[1].split("</script>")[0]
    markup = page.replace(data, "")
    # the only elements that run or load anything are the page's own two script blocks
    assert re.findall(r"<script[^>]*>", markup) == [
        '<script type="application/json" id="report-data">',
        "<script>",
    ]
    assert not re.search(r"\b(src|href)\s*=", markup)
    assert "http://" not in page and "https://" not in page and "@import" not in page
    # the payload's markup appears nowhere as markup: in the data, no "<" is left at all
    assert "<" not in data and ">" not in data and "&" not in data
    assert "onerror" not in markup
    # the policy lets exactly the embedded script and style run
    script = page.split("<script>")[1].split("</script>")[0]
    style = page.split("<style>")[1].split("</style>")[0]

    def digest(text: str) -> str:
        return base64.b64encode(hashlib.sha256(text.encode()).digest()).decode()

    policy = f"script-src 'sha256-{digest(script)}'; style-src 'sha256-{digest(style)}'"
    assert f"default-src 'none'; {policy}" in page
    # and the data still holds the speech exactly as written
    d3 = next(d for d in json.loads(data)["debates"] if d["id"] == "d3")
    assert d3["turns"][0]["segments"] == [["t", PAYLOAD]]
