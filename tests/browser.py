"""Headless Chromium from the system packages (``apt-get install chromium``), driven by Playwright.

Playwright's own browser download (``playwright install``) is never used: CI installs Debian's
Chromium in ``.ci/run``. Without either, :func:`missing` says why, and browser tests skip.
"""

from __future__ import annotations

import os
import shutil
from typing import Any

CHROMIUM = os.environ.get("MODERATION_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]


def missing() -> str | None:
    """Why no browser test can run here, or None."""
    try:
        import playwright  # noqa: F401
    except ImportError:
        return "playwright is not installed (pip install -e '.[dev]')"
    if not os.path.isfile(CHROMIUM):
        return f"no Chromium at {CHROMIUM} (apt-get install chromium, as .ci/run does)"
    return None


def launch(playwright: Any) -> Any:
    """The system Chromium, headless, with no background network traffic."""
    return playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
