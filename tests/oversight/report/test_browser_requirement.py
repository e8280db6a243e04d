"""Browser tests skip where no browser is installed, and fail there in CI."""

from __future__ import annotations

import pytest

from tests.oversight.report.browser import missing_browser, require_browser


def test_a_missing_browser_skips(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OVERSIGHT_CHROMIUM", "/nonexistent/chromium")
    monkeypatch.delenv("OVERSIGHT_REQUIRE_BROWSER", raising=False)
    assert "no chromium" in (missing_browser() or "")
    with pytest.raises(pytest.skip.Exception, match="no chromium"):
        require_browser()


def test_a_missing_browser_fails_where_one_is_required(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OVERSIGHT_CHROMIUM", "/nonexistent/chromium")
    monkeypatch.setenv("OVERSIGHT_REQUIRE_BROWSER", "1")
    with pytest.raises(pytest.fail.Exception, match="OVERSIGHT_REQUIRE_BROWSER=1 but no chromium"):
        require_browser()


def test_a_missing_driver_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OVERSIGHT_CHROMEDRIVER", "/nonexistent/chromedriver")
    if missing_browser() is not None and "chromedriver" not in (missing_browser() or ""):
        pytest.skip("no chromium here either")
    assert "no chromedriver" in (missing_browser() or "")
