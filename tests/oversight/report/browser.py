"""Headless Chromium for the transcript page's tests and benchmark.

The browser is ``$OVERSIGHT_CHROMIUM`` (default: ``chromium`` on the PATH) driven by
``$OVERSIGHT_CHROMEDRIVER`` (default: ``chromedriver`` on the PATH) through selenium.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
from typing import Any

import pytest


def missing_browser() -> str | None:
    """Why no browser can be started here, or None when one can."""
    if importlib.util.find_spec("selenium") is None:
        return "selenium is not installed (pip install -e '.[dev]')"
    chromium = os.environ.get("OVERSIGHT_CHROMIUM") or shutil.which("chromium")
    if not chromium or not os.path.exists(chromium):
        return "no chromium (set OVERSIGHT_CHROMIUM or install chromium)"
    driver = os.environ.get("OVERSIGHT_CHROMEDRIVER") or shutil.which("chromedriver")
    if not driver or not os.path.exists(driver):
        return "no chromedriver (set OVERSIGHT_CHROMEDRIVER or install chromium-driver)"
    return None


def start_chromium(width: int = 1100, height: int = 1300) -> Any:
    """A headless Chromium WebDriver; the caller quits it."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = os.environ.get("OVERSIGHT_CHROMIUM") or shutil.which("chromium") or ""
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-dev-shm-usage",
        "--disable-gpu",
        "--allow-file-access-from-files",
        f"--window-size={width},{height}",
    ):
        options.add_argument(arg)
    driver = os.environ.get("OVERSIGHT_CHROMEDRIVER") or shutil.which("chromedriver") or ""
    return webdriver.Chrome(options=options, service=Service(driver))


def require_browser() -> None:
    """Skip the calling test where no browser can start; fail it instead under
    ``OVERSIGHT_REQUIRE_BROWSER=1``, so CI never passes by skipping."""
    why = missing_browser()
    if why is None:
        return
    if os.environ.get("OVERSIGHT_REQUIRE_BROWSER") == "1":
        pytest.fail(f"OVERSIGHT_REQUIRE_BROWSER=1 but {why}")
    pytest.skip(why)
