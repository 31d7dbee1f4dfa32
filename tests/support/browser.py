"""Helpers for the browser tests (tests/e2e/): signing in, screenshots, waiting for images."""

from __future__ import annotations

import re
from pathlib import Path

SCREENSHOTS = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"
VIEWPORT = {"width": 1440, "height": 900}
# Generous: the CI machine runs the browser tests beside every other test on 2 CPUs; a hang still fails.
JOB_TIMEOUT_MS = 240_000
LOGIN_TIMEOUT_MS = 60_000
ALL_IMAGES_LOADED = "sel => [...document.querySelectorAll(sel)].every(i => i.complete && i.naturalWidth > 0)"


def screenshot(page, name: str) -> Path:
    """Save a full-page screenshot as artifacts/screenshots/<name>.png."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    # The sticky top bar would be drawn where the page happens to be scrolled to.
    page.evaluate("window.scrollTo(0, 0)")
    path = SCREENSHOTS / f"{re.sub(r'[^a-z0-9-]+', '-', name.lower())}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def log_in(page, username: str, password: str) -> None:
    page.goto("/admin/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("input[type=submit]")
    # The redirect to the dashboard is what says the login worked; its `load` (every image and script of the
    # dashboard) is not, and on a CI machine busy with other tests it once took longer than the default timeout.
    page.wait_for_url("**/admin/", wait_until="commit", timeout=LOGIN_TIMEOUT_MS)


def images_loaded(page, selector: str) -> None:
    """Every image under `selector` was served and decoded (the admin-only thumbnail view works)."""
    page.wait_for_function(ALL_IMAGES_LOADED, arg=selector)
