"""Fixtures of the report tests: the hand-made store, and one headless browser per module.

Browser tests skip where selenium, chromium or chromedriver is missing, except with
``OVERSIGHT_REQUIRE_BROWSER=1`` (CI), where a missing browser fails them instead.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from oversight.store import Store
from tests.oversight.report.browser import require_browser, start_chromium
from tests.oversight.report.stores import build_tiny_store


@pytest.fixture
def tiny_store(tmp_path: Path) -> Iterator[Store]:
    store = build_tiny_store(f"sqlite:///{tmp_path / 'tiny.db'}")
    yield store
    store.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """One headless Chromium for the whole module (starting one takes about a second)."""
    require_browser()
    driver = start_chromium()
    yield driver
    driver.quit()
