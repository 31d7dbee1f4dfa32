"""Accessibility of the generate, job, cost and budget pages (issue 17): every input has a label, and the text
colours of the staff UI's stylesheet reach a 4.5:1 contrast on the backgrounds they are used on."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from tenants.services import brand_policy_update, placement_create
from tests.support.generate_page import signed_in

CSS = Path(__file__).resolve().parents[2] / "ui" / "static" / "ui" / "dam-admin.css"
FIELDS = {"input", "select", "textarea"}
UNLABELLED_TYPES = {"hidden", "submit", "button", "reset", "image"}


class _Fields(HTMLParser):
    """Form fields and whether each has an accessible name (a label around it, a label for it, aria-label)."""

    def __init__(self) -> None:
        super().__init__()
        self.fields: list[dict[str, str | None]] = []
        self.labelled_ids: set[str] = set()
        self.open_labels = 0
        self.in_template = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "template":
            self.in_template += 1
        if tag == "label":
            self.open_labels += 1
            if a.get("for"):
                self.labelled_ids.add(a["for"])
        if tag in FIELDS and (a.get("type") or "").lower() not in UNLABELLED_TYPES:
            wrapped = self.open_labels > 0
            self.fields.append({**a, "_tag": tag, "_wrapped": "1" if wrapped else None})

    def handle_endtag(self, tag: str) -> None:
        if tag == "label":
            self.open_labels = max(0, self.open_labels - 1)
        if tag == "template":
            self.in_template -= 1

    def unlabelled(self) -> list[dict]:
        named = ("_wrapped", "aria-label", "aria-labelledby")
        return [f for f in self.fields if not (any(f.get(n) for n in named) or f.get("id") in self.labelled_ids)]


@pytest.mark.django_db
def test_every_input_on_the_feedback_pages_has_a_label(alice):
    from generation.models import Job

    placement_create(tenant=alice.tenant, slug="leaderboard", width=970, height=250, output_format="png")
    brand_policy_update(tenant=alice.tenant, default_locales=["de-DE"])
    client = signed_in(alice.user)
    client.post(
        "/admin/generation/job/generate/",
        {"prompt": "A shoe", "placements": ["leaderboard"], "routing_mode": "auto", "idempotency_key": "a11y"},
    )
    job = Job.objects.for_tenant(alice.tenant).get()
    pages = {
        "generate": client.get("/admin/generation/job/generate/").content.decode(),
        "job": client.get(f"/admin/generation/job/{job.pk}/change/").content.decode(),
        "costs": client.get("/admin/governance/costs/").content.decode(),
        "budgets": client.get("/admin/governance/budgets/").content.decode(),
    }
    for name, html in pages.items():
        parser = _Fields()
        parser.feed(html)
        assert parser.fields or name == "job", name
        assert parser.unlabelled() == [], name


# --- contrast ---------------------------------------------------------------------------------------------------


def _luminance(hex_colour: str) -> float:
    h = hex_colour.lstrip("#")
    if len(h) == 3:
        h = "".join(c * 2 for c in h)
    channels = [int(h[i : i + 2], 16) / 255 for i in (0, 2, 4)]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(foreground: str, background: str) -> float:
    high, low = sorted((_luminance(foreground), _luminance(background)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def _variables() -> dict[str, str]:
    """The custom properties as the cascade leaves them: a later :root declaration wins."""
    found: dict[str, str] = {}
    for block in re.findall(r":root\s*\{([^}]*)\}", CSS.read_text()):
        for name, value in re.findall(r"(--[\w-]+)\s*:\s*(#[0-9a-fA-F]{3,6})\b", block):
            found[name] = value
    return found


def test_the_contrast_computation_matches_known_pairs():
    assert round(contrast("#000000", "#ffffff"), 1) == 21.0
    assert round(contrast("#767676", "#ffffff"), 2) == 4.54


# Text colour -> the backgrounds it is drawn on in these pages (page, card, table head, chips, badges, alerts).
PAIRS = {
    "--ui-muted": ["--ui-bg", "--ui-card", "#fafbfc", "#f1f5f9", "#f8fafc"],
    "--ui-ink-2": ["--ui-bg", "--ui-card", "#f1f5f9"],
    "--ui-amber": ["--ui-card", "--ui-bg", "--ui-amber-soft"],
    "--ui-green": ["--ui-card", "--ui-green-soft"],
    "--ui-red": ["--ui-card", "--ui-bg", "--ui-red-soft"],
    "--ui-accent": ["--ui-card", "--ui-bg", "--ui-accent-soft"],
}


@pytest.mark.parametrize("text", sorted(PAIRS))
def test_text_colours_reach_4_5_to_1(text):
    colours = _variables()
    for background in PAIRS[text]:
        bg = colours.get(background, background)
        ratio = contrast(colours[text], bg)
        assert ratio >= 4.5, f"{text} {colours[text]} on {background} {bg}: {ratio:.2f}"


TEMPLATES = [Path(__file__).resolve().parents[2] / app / "templates" for app in ("generation", "governance")]


def test_no_template_of_these_pages_reorders_the_tab_sequence():
    """Focus follows the document: a positive tabindex would send keyboard users elsewhere first."""
    for root in TEMPLATES:
        for template in root.rglob("*.html"):
            assert not re.search(r'tabindex="[1-9]', template.read_text()), template


@pytest.mark.django_db
def test_the_generate_button_follows_every_field_of_the_form(alice):
    placement_create(tenant=alice.tenant, slug="leaderboard", width=970, height=250, output_format="png")
    html = signed_in(alice.user).get("/admin/generation/job/generate/").content.decode()
    form = html[html.index('<form id="generate-form"') : html.index("</form>", html.index('<form id="generate-form"'))]
    submit = form.index('id="submit-job"')
    last_field = max(m.start() for m in re.finditer(r"<(input|select|textarea)\b(?![^>]*type=\"hidden\")", form))
    assert last_field < submit
