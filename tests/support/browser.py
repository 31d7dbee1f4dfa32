"""Helpers for the browser tests (tests/e2e/): signing in, screenshots, waiting for images."""

from __future__ import annotations

import re
import time
from pathlib import Path

SCREENSHOTS = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"
VIEWPORT = {"width": 1440, "height": 900}
# Generous: the CI machine runs the browser tests beside every other test on 2 CPUs; a hang still fails.
JOB_TIMEOUT_MS = 240_000
LOGIN_TIMEOUT_MS = 60_000
DASHBOARD = re.compile(r"^https?://[^/]+/admin/$")
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
    """Sign in through the login form; done when the dashboard's URL commits (its `load`, every image and script,
    is not what says the login worked, and took longer than the default timeout on a busy CI machine).

    Tried a second time when the first POST was answered by a CSRF refusal: twice in CI (a second person signing
    in on the same page, cookies cleared) the server logged the login as successful and, ~30 s later, refused a
    second POST of the same form with the token the login had rotated: most likely Chromium sending the POST again
    on a new connection when the first one's answer did not arrive. A person would see the login page again and
    sign in again, as this does; a refusal the second time fails the test."""
    for attempt in (1, 2):
        page.goto("/admin/login/")
        page.fill("#id_username", username)
        page.fill("#id_password", password)
        answers: list[int] = []

        def listener(response, answers: list[int] = answers) -> None:
            if _is_login_post(response):
                answers.append(response.status)

        page.on("response", listener)
        try:
            page.click("input[type=submit]")
            deadline = time.monotonic() + LOGIN_TIMEOUT_MS / 1000
            while time.monotonic() < deadline:
                if DASHBOARD.search(page.url):
                    return
                if 403 in answers:
                    if attempt == 2:
                        raise AssertionError(f"signing in as {username} was refused twice: {answers}")
                    break  # refused: sign in again with the form's new token
                page.wait_for_timeout(100)
            else:
                raise AssertionError(f"signing in as {username} did not reach the dashboard: at {page.url}, {answers}")
        finally:
            page.remove_listener("response", listener)


def _is_login_post(response) -> bool:
    return response.request.method == "POST" and response.url.split("?")[0].endswith("/admin/login/")


def images_loaded(page, selector: str) -> None:
    """Every image under `selector` was served and decoded (the admin-only thumbnail view works)."""
    page.wait_for_function(ALL_IMAGES_LOADED, arg=selector)
