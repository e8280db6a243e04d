"""Screenshot of a ``transcripts.html`` page in headless Chromium, for the README.

Usage: ``python scripts/screenshot_transcripts.py PAGE OUT.png [--protocol P] [--search TEXT]``.
The browser is ``$OVERSIGHT_CHROMIUM`` (default ``chromium``) driven by
``$OVERSIGHT_CHROMEDRIVER`` (default ``chromedriver``). The PNG is reduced to a 256-colour
palette, which keeps text sharp at a fraction of the size.
"""

from __future__ import annotations

import argparse
import io
import os
import shutil
from pathlib import Path

from PIL import Image
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.support.ui import Select


def main(page: Path, out: Path, protocol: str | None, search: str | None, size: str) -> None:
    options = webdriver.ChromeOptions()
    options.binary_location = os.environ.get("OVERSIGHT_CHROMIUM") or shutil.which("chromium") or ""
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", f"--window-size={size}"):
        options.add_argument(arg)
    driver_path = os.environ.get("OVERSIGHT_CHROMEDRIVER") or shutil.which("chromedriver") or ""
    driver = webdriver.Chrome(options=options, service=Service(driver_path))
    try:
        driver.get(page.resolve().as_uri())
        if protocol:
            Select(driver.find_element("id", "f-protocol")).select_by_visible_text(protocol)
        if search:
            driver.find_element("id", "f-search").send_keys(search)
        png = driver.get_screenshot_as_png()
    finally:
        driver.quit()
    image = Image.open(io.BytesIO(png)).convert("RGB").quantize(colors=256)
    image.save(out, optimize=True)
    print(f"wrote {out} ({out.stat().st_size // 1024} KB)")


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("page", type=Path)
    ap.add_argument("out", type=Path)
    ap.add_argument("--protocol")
    ap.add_argument("--search")
    ap.add_argument("--size", default="1000,900", help="window width,height in pixels")
    args = ap.parse_args()
    main(args.page, args.out, args.protocol, args.search, args.size)
