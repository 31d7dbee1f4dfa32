"""Every place a request's text is screened sees through invisible characters and look-alike letters, and a
prompt or in-image copy carrying a bidi embedding, override or isolate is refused (400 naming the field)
before anything is checked, stored or spent: the API, its live plan, edits and the staff Generate page."""

from __future__ import annotations

import pytest
from django.test import Client

from generation.models import Job
from governance.models import AuditEvent, BudgetHold, LedgerEntry
from governance.services.safety import safety_config_update
from tenants.services import brand_policy_update
from tests.factories import make_asset
from tests.support.errors import error_codes, error_fields, error_message, names_field

pytestmark = pytest.mark.django_db

RLO, LRI, PDI, ZWSP, SHY = "\u202e", "\u2066", "\u2069", "\u200b", "\u00ad"
CYRILLIC_I, CYRILLIC_A = "\u0456", "\u0430"


def _stored(tenant) -> tuple[int, int, int, int]:
    return (
        Job.objects.for_tenant(tenant).count(),
        LedgerEntry.objects.for_tenant(tenant).count(),
        BudgetHold.objects.for_tenant(tenant).count(),
        AuditEvent.objects.for_tenant(tenant).count(),
    )


@pytest.mark.parametrize("path", ["/api/v1/jobs", "/api/v1/jobs/plan"])
def test_a_prompt_with_a_bidi_override_is_a_400_naming_the_prompt_and_nothing_is_created(alice, path):
    before = _stored(alice.tenant)
    response = alice.client().post(path, {"prompt": f"A kayak {RLO}elas paehc"}, format="json")
    assert response.status_code == 400, response.content
    assert error_fields(response) == {"prompt"} and "bidi_control" in error_codes(response)
    assert "U+202E" in error_message(response, "prompt")
    assert _stored(alice.tenant) == before


def test_in_image_copy_with_a_bidi_isolate_is_a_400_naming_the_locale(alice):
    before = _stored(alice.tenant)
    body = {"prompt": "A kayak", "locales": {"en-GB": "Summer", "ja-JP": f"夏の{LRI}セール{PDI}"}}
    response = alice.client().post("/api/v1/jobs", body, format="json")
    assert response.status_code == 400, response.content
    assert error_fields(response) == {"locales.ja-JP"} and "bidi_control" in error_codes(response)
    assert _stored(alice.tenant) == before


def test_an_edit_prompt_with_a_bidi_override_is_refused_too(alice):
    asset = make_asset(alice.tenant)
    before = _stored(alice.tenant)
    body = {"prompt": f"make it {RLO}der", "source_version": {"asset": asset.pk}}
    response = alice.client().post("/api/v1/jobs", body, format="json")
    assert response.status_code == 400 and names_field(response, "prompt")
    assert _stored(alice.tenant) == before


def test_a_banned_term_hidden_by_invisibles_or_a_look_alike_is_a_422_naming_the_term_as_saved(alice):
    brand_policy_update(tenant=alice.tenant, banned_terms=["Miracle"])
    before = _stored(alice.tenant)
    for prompt in (f"a mir{ZWSP}acle cream", f"a m{CYRILLIC_I}racle cream", f"a m{CYRILLIC_I}ra{SHY}cle cream"):
        response = alice.client().post("/api/v1/jobs/plan", {"prompt": prompt}, format="json")
        assert response.status_code == 422, (prompt, response.content)
        assert "banned_term" in error_codes(response) and "'Miracle'" in error_message(response, "prompt")
    copy = alice.client().post("/api/v1/jobs", {"prompt": "A jar", "locales": {"de": f"Mir{ZWSP}acle"}}, format="json")
    assert copy.status_code == 422 and names_field(copy, "locales")
    assert _stored(alice.tenant) == before


def test_a_blocklist_term_hidden_in_the_copy_is_blocked_before_any_spend(alice):
    safety_config_update(tenant=alice.tenant, blocklist=[{"text": "bargain"}])
    body = {"prompt": "A jar", "locales": {"de": f"Bar{SHY}g{CYRILLIC_A}in"}}
    response = alice.client().post("/api/v1/jobs", body, format="json")
    assert response.status_code == 422 and "safety_blocked" in error_codes(response)
    assert names_field(response, "locales")
    assert not Job.objects.for_tenant(alice.tenant).exists()


def test_a_banned_term_saved_with_an_invisible_character_still_matches_the_plain_word(alice):
    brand_policy_update(tenant=alice.tenant, banned_terms=[f"che{ZWSP}ap"])
    response = alice.client().post("/api/v1/jobs/plan", {"prompt": "so cheap"}, format="json")
    assert response.status_code == 422 and "banned_term" in error_codes(response)


def test_legitimate_copy_keeps_its_joiners_when_stored(alice):
    brand_policy_update(tenant=alice.tenant, banned_terms=["cheap", "सस्ता", "激安"])
    hindi = "\u0915\u094d\u200d\u0937\u092e\u093e \u0915\u0940\u091c\u093f\u090f"  # a half form with ZWJ
    body = {"prompt": "A festival poster", "locales": {"hi": hindi, "ja": "新しいロゴ"}}
    response = alice.client().post("/api/v1/jobs", body, format="json")
    assert response.status_code == 202, response.content
    assert Job.objects.for_tenant(alice.tenant).get().locales == {"hi": hindi, "ja": "新しいロゴ"}


def test_the_generate_page_refuses_a_bidi_override_and_names_it(alice):
    client = Client()
    client.force_login(alice.user)
    form = {"prompt": f"A kayak {RLO}elas", "quality": "low", "routing_mode": "auto", "n": "1", "output_format": "png"}
    page = client.post("/admin/generation/job/generate/", form)
    assert page.status_code == 400 and "U+202E" in page.content.decode()
    form.update(prompt="A kayak", locale_code=["ja"], locale_copy=[f"夏{LRI}"])
    plan = client.post("/admin/generation/job/generate/plan/", form)
    assert "U+2066" in plan.content.decode()
    brand_policy_update(tenant=alice.tenant, banned_terms=["Miracle"])
    form.update(prompt=f"A m{CYRILLIC_I}ra{ZWSP}cle cream", locale_code=[], locale_copy=[])
    plan = client.post("/admin/generation/job/generate/plan/", form)
    assert "bans the term &#x27;Miracle&#x27;" in plan.content.decode()
    assert client.post("/admin/generation/job/generate/", form).status_code == 400
    assert not Job.objects.for_tenant(alice.tenant).exists()


def test_the_live_plan_asks_for_a_prompt_only_when_there_is_none(alice):
    client = Client()
    client.force_login(alice.user)
    form = {"prompt": "  ", "quality": "low", "routing_mode": "auto", "n": "1", "output_format": "png"}
    page = client.post("/admin/generation/job/generate/plan/", form)
    assert "Enter a prompt to see the plan." in page.content.decode()
