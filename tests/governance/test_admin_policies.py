"""Brand policy and safety editors: saving makes a new version through the services (audited), the page
shows the field diff from the previous version, loosening is refused, only admins reach them."""

from __future__ import annotations

import pytest
from django.test import Client

from governance.models import AuditEvent, SafetyConfig
from governance.services.safety import safety_config_update
from tenants.models import BrandPolicy
from tenants.services import brand_policy_update

pytestmark = pytest.mark.django_db

BRAND = "/admin/governance/policies/brand/"
SAFETY = "/admin/governance/policies/safety/"
BRAND_FORM = {
    "style_guide": "Soft daylight, no text",
    "banned_terms": "cheap\nfree gift",
    "palette": "#0f172a, #4F46E5",
    "default_quality": "medium",
    "default_output_format": "png",
    "default_locales": "en, de",
    "review_required": "on",
}


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_the_brand_editor_makes_a_new_version_and_shows_what_changed(alice, charlie):
    brand_policy_update(tenant=alice.tenant, style_guide="Old guide")
    client = _client(alice.user)
    assert client.post(BRAND, BRAND_FORM).status_code == 302
    policy = BrandPolicy.objects.for_tenant(alice.tenant).order_by("-version").first()
    assert (policy.version, policy.palette, policy.banned_terms) == (2, ["#0F172A", "#4F46E5"], ["cheap", "free gift"])
    assert (
        AuditEvent.objects.for_tenant(alice.tenant).filter(action="policy.updated", actor_label="user:alice").exists()
    )
    page = client.get(BRAND)
    changed = {row["field"] for row in page.context["diff"] if row["changed"]}
    assert {"style guide", "palette", "banned terms", "default quality"} <= changed
    assert "output format" not in " ".join(changed)
    assert "Old guide" in page.content.decode()
    # Saving the same values again makes no version; an invalid colour makes none either.
    client.post(BRAND, BRAND_FORM)
    bad = client.post(BRAND, {**BRAND_FORM, "palette": "blue"})
    assert bad.status_code == 400 and "palette" in bad.content.decode()
    assert BrandPolicy.objects.for_tenant(alice.tenant).count() == 2
    assert not BrandPolicy.objects.for_tenant(charlie.tenant).exists()


def test_the_safety_editor_tightens_through_the_service_and_refuses_loosening(alice):
    current = safety_config_update(tenant=alice.tenant, preset="general")
    client = _client(alice.user)
    form = {
        "preset": "general",
        "review_rule": "always",
        "provider_moderation": current.provider_moderation,
        "prompt_shield": "on",
        "blocklist": "knock-off\nre: fr[e3]{2} ?gift",
        **{f"prompt_thresholds.{c}": v for c, v in current.prompt_thresholds.items()},
        **{f"output_thresholds.{c}": v for c, v in current.output_thresholds.items()},
    }
    assert client.post(SAFETY, form).status_code == 302
    latest = SafetyConfig.objects.for_tenant(alice.tenant).order_by("-version").first()
    assert (latest.version, latest.review_rule) == (current.version + 1, "always")
    assert [(i["text"], i["regex"]) for i in latest.blocklist] == [("knock-off", False), ("fr[e3]{2} ?gift", True)]
    diff = {row["field"]: row for row in client.get(SAFETY).context["diff"]}
    assert diff["review rule"]["changed"] and not diff["preset"]["changed"]
    category = next(iter(current.output_thresholds))
    looser = {**form, f"output_thresholds.{category}": 7, "review_rule": "never"}
    refused = client.post(SAFETY, looser)
    assert refused.status_code == 400
    assert SafetyConfig.objects.for_tenant(alice.tenant).count() == latest.version


def test_policy_editors_are_for_admins_and_a_viewer_changes_nothing(alice, bob):
    client = _client(bob.user)
    for url in (BRAND, SAFETY):
        assert client.get(url).status_code == 403
    assert client.post(BRAND, BRAND_FORM).status_code == 403
    assert client.post(SAFETY, {"review_rule": "never"}).status_code == 403
    assert not BrandPolicy.objects.for_tenant(alice.tenant).exists()
    assert not SafetyConfig.objects.for_tenant(alice.tenant).exists()
