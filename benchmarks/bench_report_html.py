"""Load and filter times of ``transcripts.html`` for 5,000 debates, in headless Chromium.

Builds a synthetic store (the report tests' generator), writes the page, opens it and times,
inside the page, each filter as the page's controls trigger it (filtering all debates and
rendering the first 100 matches). Prints one JSON object; times are in seconds, medians of
``--repeats`` runs. The machine is shared and noisy: read the numbers as orders of magnitude.
Usage: ``python benchmarks/bench_report_html.py [--n 5000] [--repeats 5]``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the tests' store builder

from oversight.report.context import load_context
from oversight.report.html import transcripts_page
from tests.oversight.report.browser import missing_browser, start_chromium
from tests.oversight.report.stores import SYNTHETIC, build_synthetic_store

# Each returns milliseconds spent in the page's own handler (synchronous: filter + render).
CHANGE = """
const [id, value] = arguments; const c = document.getElementById(id);
const t = performance.now(); c.value = value;
c.dispatchEvent(new Event(id === "f-search" ? "input" : "change"));
return [performance.now() - t, Number(document.getElementById("count").dataset.matches)];
"""
MORE = """
const t = performance.now(); document.getElementById("more").click();
return [performance.now() - t, Number(document.getElementById("count").dataset.shown)];
"""
FILTERS = (
    ("protocol", "f-protocol", "consultancy"),
    ("verdict", "f-outcome", "fooled"),
    ("search", "f-search", "number 12"),
    ("clear search", "f-search", ""),
    ("clear verdict", "f-outcome", ""),
    ("clear protocol", "f-protocol", ""),
)


def main(n: int, repeats: int) -> dict[str, Any]:
    why = missing_browser()
    if why is not None:
        raise SystemExit(f"no browser: {why}")
    folder = Path(tempfile.mkdtemp(prefix="bench-report-"))
    start = time.perf_counter()
    store = build_synthetic_store(f"sqlite:///{folder / 'store.db'}", n)
    built = time.perf_counter() - start
    start = time.perf_counter()
    page = folder / "transcripts.html"
    page.write_text(transcripts_page(store, load_context(store, SYNTHETIC)), encoding="utf-8")
    written = time.perf_counter() - start
    driver = start_chromium()
    loads, in_page = [], []
    timings: dict[str, list[float]] = {name: [] for name, *_ in FILTERS}
    timings["show more"] = []
    matches: dict[str, int] = {}
    try:
        for _ in range(repeats):
            start = time.perf_counter()
            driver.get(page.as_uri())  # returns after the load event: data parsed, page drawn
            loads.append(time.perf_counter() - start)
            in_page.append(
                driver.execute_script(
                    "return performance.getEntriesByType('navigation')[0].loadEventEnd"
                )
                / 1000
            )
            ms, _ = driver.execute_script(MORE)
            timings["show more"].append(ms / 1000)
            for name, control, value in FILTERS:
                ms, count = driver.execute_script(CHANGE, control, value)
                timings[name].append(ms / 1000)
                matches[name] = count
    finally:
        driver.quit()
    return {
        "debates": n,
        "page_mb": round(page.stat().st_size / 1e6, 2),
        "build_store_s": round(built, 2),
        "write_page_s": round(written, 2),
        "load_s": round(statistics.median(loads), 3),
        "load_event_in_page_s": round(statistics.median(in_page), 3),
        "filter_s": {k: round(statistics.median(v), 4) for k, v in timings.items()},
        "matches": matches,
        "repeats": repeats,
    }


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--n", type=int, default=5000)
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    print(json.dumps(main(args.n, args.repeats), indent=1))
