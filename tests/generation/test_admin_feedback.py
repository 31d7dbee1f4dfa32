"""Feedback that tells the truth (issue 17) on the generate page, the job page and the cost estimator: the plan
panel says why it cannot plan in the form's words, languages without copy mean no in-image text, the estimator's
routings are a choice and an upscaling routing is never simply "cheapest", money and times read one way."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from generation.models import Job
from tenants.services import brand_policy_update
from tests.support.generate_page import GENERATE, PLAN, form, generate_placements, signed_in
from ui.templatetags.ui import money, tenant_time, unit_price, usd

pytestmark = pytest.mark.django_db

ESTIMATE = "/admin/governance/costs/estimate/"
COSTS = "/admin/governance/costs/"


@pytest.fixture
def placements(alice):
    generate_placements(alice.tenant)


def errors_of(page: str) -> list[tuple[str, str]]:
    return re.findall(r'<p class="ui-error"><strong>([^<]+)</strong>: ([^<]+)</p>', page)


# --- 1. the plan panel says why, in the form's words ------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "label", "reason"),
    [
        ({"prompt": "A cheap shoe"}, "Prompt", "bans the term"),
        ({"routing_mode": "explicit", "size": "1000x1000"}, "Exact size", "not a legal size"),
        ({"placements": ["nope"]}, "Placements", "unknown placement"),
        ({"locale_code": ["xx_!!"], "locale_copy": ["a"]}, "Languages", "not a BCP 47 language tag"),
        ({"n": "50"}, "Images per generation", "from 1 to 10"),
        ({"prompt": "", "placements": ["nope"]}, "Placements", "unknown placement"),
    ],
)
def test_the_plan_panel_names_the_broken_rule_under_the_fields_label(alice, placements, overrides, label, reason):
    brand_policy_update(tenant=alice.tenant, banned_terms=["cheap"])
    page = signed_in(alice.user).post(PLAN, form(**overrides)).content.decode()
    errors = errors_of(page)
    assert [name for name, _ in errors] == [label], page
    assert reason in errors[0][1]
    assert "Enter a prompt" not in page
    # No API key leaks into the page as a field name.
    assert not re.search(r"<strong>(prompt|size|placements|locales|n)</strong>", page)


def test_only_a_missing_prompt_is_a_hint(alice, placements):
    page = signed_in(alice.user).post(PLAN, form(prompt="  ")).content.decode()
    assert "Enter a prompt to see the plan." in page and not errors_of(page)


# --- 3. languages from the brand's defaults, empty copy = no in-image text --------------------------------------


def test_default_languages_with_empty_copy_plan_and_submit_as_text_free(alice, placements):
    brand_policy_update(tenant=alice.tenant, default_locales=["de-DE", "fr-FR"])
    client = signed_in(alice.user)
    page = client.get(GENERATE).content.decode()
    rows = re.findall(r'name="locale_code" value="([^"]*)"[^>]*>\s*<input name="locale_copy" value="([^"]*)"', page)
    assert rows == [("de-DE", ""), ("fr-FR", "")]
    assert "leave the copy empty for no in-image text" in page
    # The form as the page pre-fills it: the languages, their copy left empty.
    prefilled = form(locale_code=["de-DE", "fr-FR"], locale_copy=["", ""])
    plan = client.post(PLAN, prefilled).content.decode()
    assert not errors_of(plan), plan
    assert 'data-textless="de-DE,fr-FR"' in plan and "one text-free generation serves every language" in plan
    assert re.search(r'<span class="ui-stat">2</span><span class="ui-stat-label">provider calls', plan)
    assert client.post(GENERATE, prefilled).status_code == 302
    job = Job.objects.for_tenant(alice.tenant).get()
    assert job.locales == {}
    assert job.generations.count() == 2 and not job.generations.exclude(locale="").exists()


def test_a_language_with_copy_beside_one_without(alice, placements):
    client = signed_in(alice.user)
    mixed = form(locale_code=["de-DE", "fr-FR"], locale_copy=["Neu", ""])
    plan = client.post(PLAN, mixed).content.decode()
    assert 'data-textless="fr-FR"' in plan and "no generation of their own" in plan
    assert client.post(GENERATE, mixed).status_code == 302
    job = Job.objects.for_tenant(alice.tenant).get()
    assert job.locales == {"de-DE": "Neu"}
    assert set(job.generations.values_list("locale", flat=True)) == {"de-DE"}
    # A language listed twice is still refused, with or without copy.
    twice = client.post(PLAN, form(locale_code=["de-DE", "de-DE"], locale_copy=["Neu", ""])).content.decode()
    assert errors_of(twice) == [("Languages", "de-DE is listed twice")]


# --- 2. the estimator -------------------------------------------------------------------------------------------


def test_the_estimators_routings_are_a_choice_of_valid_routings(alice, placements):
    page = signed_in(alice.user).get(COSTS).content.decode()
    assert not re.search(r'<input[^>]*type="text"[^>]*name="routing"', page)
    boxes = re.findall(r'<input type="checkbox" name="routing" value="([^"]+)"( checked)?>', page)
    values = [v for v, _ in boxes]
    assert {"auto", "smimage", "image", "xlimage", "16", "96", "1536x1024"} <= set(values)
    assert [v for v, checked in boxes if checked] == ["auto", "smimage", "xlimage"]
    # Every offered routing is one the service accepts.
    client = signed_in(alice.user)
    for value in values:
        response = client.post(ESTIMATE, {"routing": value, "placements": ["leaderboard"]})
        assert response.status_code == 200, (value, response.content.decode())


def test_the_estimator_shows_the_services_refusal_under_the_fields_label(alice):
    client = signed_in(alice.user)
    too_many = client.post(ESTIMATE, {"routing": ["auto", "smimage", "image", "xlimage", "16", "24", "36"]})
    assert too_many.status_code == 400
    text = too_many.content.decode()
    assert "<strong>Routings to compare</strong>: one routing or a list of 1-6 to compare" in text
    none = client.post(ESTIMATE, {"images_per_month": "1000"})
    assert none.status_code == 400 and "Routings to compare" in none.content.decode()
    # htmx does not swap a 4xx into the page: to htmx the refusal is the panel's content.
    swapped = client.post(ESTIMATE, {"images_per_month": "1000"}, headers={"HX-Request": "true"})
    assert swapped.status_code == 200 and "ui-estimate-error" in swapped.content.decode()
    negative = client.post(ESTIMATE, {"routing": "auto", "images_per_month": "-5"}).content.decode()
    assert "<strong>Base images / month</strong>: must be an integer from 0 to 100,000,000" in negative
    assert "images_per_month" not in negative.replace('data-field="images_per_month"', "")


def test_an_upscaling_routing_is_never_simply_cheapest(alice, placements):
    response = signed_in(alice.user).post(
        ESTIMATE, {"routing": ["auto", "smimage"], "placements": ["mobile-story"], "quality": "high"}
    )
    options = {o["routing"]: o for o in response.context["estimate"]["options"]}
    small, auto = options["tier:smimage"], options["auto"]
    assert small["upscaled_placements"] == ["mobile-story"] and auto["upscaled_placements"] == []
    assert Decimal(small["total_usd_exact"]) < Decimal(auto["total_usd_exact"])
    page = response.content.decode()
    small_card = page[page.index('data-routing="tier:smimage"') :]
    assert 'data-badge="cheapest-upscales"' in small_card[:600] and "Cheapest, but upscales" in small_card
    assert "Generates smaller than mobile-story and scales up" in small_card
    auto_card = page[page.index('data-routing="auto"') : page.index('data-routing="tier:smimage"')]
    assert 'data-badge="cheapest-full-size"' in auto_card and 'data-badge="cheapest"' not in auto_card


def test_a_full_size_routing_is_plainly_cheapest(alice, placements):
    page = signed_in(alice.user).post(ESTIMATE, {"routing": ["auto", "xlimage"], "placements": ["leaderboard"]})
    text = page.content.decode()
    assert text.count('data-badge="cheapest"') == 1 and "upscales" not in text


# --- 4. money and time, one way ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "total", "unit"),
    [
        (Decimal("1234.5"), "$1,234.50", "$1,234.50"),
        (Decimal("185.5449"), "$185.54", "$185.5449"),
        (Decimal("0.18554"), "$0.19", "$0.1855"),
        (Decimal("0.0042"), "$0.0042", "$0.0042"),  # a real amount never reads "$0.00"
        (Decimal("0"), "$0.00", "$0.00"),
        ("1000000", "$1,000,000.00", "$1,000,000.00"),
        (Decimal("-12.5"), "-$12.50", "-$12.50"),
        (None, "—", "—"),
    ],
)
def test_money_has_one_format(value, total, unit):
    assert money(value) == total
    assert unit_price(value) == unit


def test_the_older_usd_filter_reads_like_money():
    assert usd(Decimal("1234.5")) == "$1,234.50" and usd(Decimal("0.0087")) == "$0.0087"


def test_times_are_shown_in_the_tenants_zone_and_say_which(alice, placements):
    moment = dt.datetime(2026, 12, 7, 23, 30, tzinfo=dt.UTC)
    assert tenant_time(moment, "Europe/Berlin") == "2026-12-08 00:30 Europe/Berlin"
    assert tenant_time(moment, None) == "2026-12-07 23:30 UTC"
    alice.tenant.time_zone = "America/New_York"
    alice.tenant.save(update_fields=["time_zone"])
    client = signed_in(alice.user)
    client.post(GENERATE, form())
    job = Job.objects.for_tenant(alice.tenant).get()
    page = client.get(f"/admin/generation/job/{job.pk}/change/").content.decode()
    shown = tenant_time(job.created_at, "America/New_York")
    # The machine-readable moment is the same instant, written with the zone's offset the page is shown in.
    local = job.created_at.astimezone(ZoneInfo("America/New_York")).isoformat()
    assert f'Submitted <time datetime="{local}">{shown}</time>' in page
    assert "America/New_York" in page


def test_the_plan_panel_formats_its_estimate_as_money(alice, placements):
    page = signed_in(alice.user).post(PLAN, form()).content.decode()
    shown = re.search(r'data-estimated-usd="([0-9.]+)">([^<]+)<', page)
    assert shown.group(2) == money(Decimal(shown.group(1)))


def test_the_job_list_and_the_audit_trail_show_times_in_the_tenants_zone(alice, placements):
    alice.tenant.time_zone = "Asia/Tokyo"
    alice.tenant.save(update_fields=["time_zone"])
    client = signed_in(alice.user)
    client.post(GENERATE, form())
    job = Job.objects.for_tenant(alice.tenant).get()
    jobs = client.get("/admin/generation/job/").content.decode()
    assert tenant_time(job.created_at, "Asia/Tokyo") in jobs and "Submitted" in jobs
    brand_policy_update(tenant=alice.tenant, created_by=alice.user, style_guide="Soft daylight")
    trail = client.get("/admin/governance/audit/").content.decode()
    assert 'When <span class="ui-muted">(Asia/Tokyo)</span>' in trail
    policy = client.get("/admin/governance/policies/brand/").content.decode()
    assert "Asia/Tokyo" in policy
