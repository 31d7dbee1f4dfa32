"""Saved banned terms and blocklist items: stored as written, matched on their screening forms; a term made
of invisible characters only is blank (it could never match), and spellings that differ only by invisible
characters are one blocklist item."""

from __future__ import annotations

import pytest

from governance.models import SafetyConfig
from tenants.models import BrandPolicy
from tests.support.errors import error_fields, names_field

pytestmark = pytest.mark.django_db

SAFETY = "/api/v1/safety-config/current"
BRAND = "/api/v1/brand-policy/current"
INVISIBLE_ONLY = "\u200b\u2060\ufeff\u00ad"


def test_a_banned_term_of_invisible_characters_only_is_a_400_and_no_version_is_made(alice):
    response = alice.client().patch(BRAND, {"banned_terms": ["cheap", INVISIBLE_ONLY]}, format="json")
    assert response.status_code == 400, response.content
    assert names_field(response, "banned_terms")
    assert not BrandPolicy.objects.for_tenant(alice.tenant).exists()


def test_a_banned_term_is_stored_as_written(alice):
    term = "\u0441heap"  # with a Cyrillic es: matched on its skeleton, shown as the brand wrote it
    response = alice.client().patch(BRAND, {"banned_terms": [term]}, format="json")
    assert response.status_code == 201 and response.json()["banned_terms"] == [term]
    plan = alice.client().post("/api/v1/jobs/plan", {"prompt": "so cheap"}, format="json")
    assert plan.status_code == 422


def test_a_blocklist_item_of_invisible_characters_only_is_a_400_naming_it(alice):
    response = alice.client().patch(SAFETY, {"blocklist": [{"text": "ok"}, {"text": INVISIBLE_ONLY}]}, format="json")
    assert response.status_code == 400, response.content
    assert "blocklist[1].text" in error_fields(response)
    assert not SafetyConfig.objects.for_tenant(alice.tenant).exists()


def test_blocklist_spellings_that_differ_only_by_invisible_characters_are_one_item(alice):
    terms = [{"text": "bargain"}, {"text": "bar\u00adgain"}, {"text": "bar\u200bgain\ufe0f"}]
    response = alice.client().patch(SAFETY, {"blocklist": terms}, format="json")
    assert response.status_code == 201, response.content
    assert [item["text"] for item in response.json()["blocklist"]] == ["bargain"]


def test_the_azure_backend_is_sent_the_text_without_its_invisible_characters(alice, azure_moderation):
    response = alice.client().post("/api/v1/jobs/plan", {"prompt": "a mar\u200bble sta\u00adtue"}, format="json")
    assert response.status_code == 200, response.content
    recent = azure_moderation.stats()["content_safety"]["recent"]
    analysed = [call["text"] for call in recent if call["operation"] == "text_analyze"]
    assert analysed and all("\u200b" not in text and "\u00ad" not in text for text in analysed), recent
    assert any("marble statue" in text for text in analysed)
