"""The screenshot in docs/report.md: a report opened in headless Chromium, one tab, one PNG.

    python benchmarks/report_screenshot.py REPORT.html docs/report-queue.png [--tab queue] [--width 1100] [--height 760]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests import browser  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("report", type=Path)
    parser.add_argument("png", type=Path)
    parser.add_argument("--tab", default="queue", choices=["overview", "queue", "pages"])
    parser.add_argument("--width", type=int, default=1100)
    parser.add_argument("--height", type=int, default=760)
    args = parser.parse_args()
    if reason := browser.missing():
        raise SystemExit(f"error: {reason}")
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as p:
        chromium = browser.launch(p)
        page = chromium.new_page(viewport={"width": args.width, "height": args.height})
        page.goto(args.report.resolve().as_uri())
        expect(page.locator("body")).to_have_attribute("data-ready", "1")
        page.click(f"nav button[data-tab={args.tab}]")
        if args.tab == "pages":
            page.click("#p-list a")
        page.screenshot(path=str(args.png))
        chromium.close()


if __name__ == "__main__":
    main()
