"""Safety configurations: versioned like the brand policy, presets, and only ever tighter than the preset."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from governance.models import SafetyConfig
from governance.safety.categories import CATEGORIES
from governance.safety.presets import PRESETS
from governance.services.safety import safety_config_update
from tenants.models import Scope
from tests.factories import make_api_key
from tests.support.errors import names_field

pytestmark = pytest.mark.django_db

URL = "/api/v1/safety-config/current"


def _client(token: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


def _versions(tenant) -> list[tuple[int, str]]:
    return list(SafetyConfig.objects.for_tenant(tenant).order_by("version").values_list("version", "preset"))


def test_a_tenant_without_a_configuration_reads_the_general_preset_as_version_0(alice):
    body = alice.client().get(URL).json()
    assert body["version"] == 0 and body["preset"] == "general"
    assert body["prompt_thresholds"] == PRESETS["general"].prompt_thresholds
    assert not SafetyConfig.objects.for_tenant(alice.tenant).exists()


def test_every_change_is_a_new_immutable_version(alice):
    first = alice.client().patch(URL, {"prompt_thresholds": {"hate": 2}}, format="json")
    second = alice.client().patch(URL, {"review_rule": "always"}, format="json")
    assert first.status_code == second.status_code == 201, (first.content, second.content)
    assert [first.json()["version"], second.json()["version"]] == [1, 2]
    v1, v2 = SafetyConfig.objects.for_tenant(alice.tenant).order_by("version")
    assert v1.prompt_thresholds["hate"] == 2 and v1.review_rule == "flagged_only"
    # The second version carries the first one's change forward; the first is untouched.
    assert v2.prompt_thresholds["hate"] == 2 and v2.review_rule == "always"
    assert alice.client().get(URL).json()["version"] == 2


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"prompt_thresholds": {"violence": 4}}, "prompt_thresholds.violence"),
        ({"output_thresholds": {"sexual": 6}}, "output_thresholds.sexual"),
        ({"prompt_shield": False}, "prompt_shield"),
        ({"provider_moderation": "low"}, "provider_moderation"),
        ({"review_rule": "flagged_only"}, "review_rule"),
        ({"preset": "general"}, "preset"),
    ],
)
def test_a_childrens_media_tenant_cannot_loosen_its_preset(alice, change, field):
    assert alice.client().put(URL, {"preset": "childrens_media"}, format="json").status_code == 201
    before = _versions(alice.tenant)
    response = alice.client().patch(URL, change, format="json")
    assert response.status_code == 400, response.content
    assert names_field(response, field)
    assert _versions(alice.tenant) == before


def test_moving_to_a_stricter_preset_tightens_every_value_onto_it(alice):
    safety_config_update(tenant=alice.tenant, prompt_thresholds={"hate": 2}, provider_moderation="low")
    config = safety_config_update(tenant=alice.tenant, preset="healthcare")
    assert config.prompt_thresholds == dict.fromkeys(CATEGORIES, 2)
    assert config.output_thresholds == dict.fromkeys(CATEGORIES, 2)
    assert (config.provider_moderation, config.review_rule, config.prompt_shield) == ("auto", "always", True)


def test_general_may_loosen_its_defaults_down_to_the_platform_floor(alice):
    change = {
        "provider_moderation": "low",
        "review_rule": "never",
        "prompt_shield": False,
        "output_thresholds": {"violence": 6},
        "prompt_thresholds": {"hate": 2},
    }
    response = alice.client().patch(URL, change, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["provider_moderation"], body["review_rule"], body["prompt_shield"]) == ("low", "never", False)
    assert (body["output_thresholds"]["violence"], body["prompt_thresholds"]["hate"]) == (6, 2)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"prompt_thresholds": {"hate": 3}}, "prompt_thresholds.hate"),
        ({"prompt_thresholds": {"gore": 2}}, "prompt_thresholds.gore"),
        ({"blocklist": [{"text": "(unclosed", "regex": True}]}, "blocklist[0].text"),
        ({"blocklist": [{"text": "a*", "regex": True}]}, "blocklist[0].text"),
        (
            {"blocklist": [{"text": "free", "regex": True}, {"text": r"(\d|\d\d)+z", "regex": True}]},
            "blocklist[1].text",
        ),
        ({"blocklist": [{"text": "   "}]}, "blocklist[0].text"),
        ({"review_rule": "sometimes"}, "review_rule"),
        ({"preset": "casino"}, "preset"),
    ],
)
def test_invalid_values_are_400_naming_the_field(alice, change, field):
    response = alice.client().patch(URL, change, format="json")
    assert response.status_code == 400, response.content
    assert names_field(response, field)
    assert not SafetyConfig.objects.for_tenant(alice.tenant).exists()


def test_blocklist_items_get_stable_ids_and_duplicates_across_normalisation_collapse(alice):
    terms = [{"text": "Café"}, {"text": "CAFE\u0301"}, {"text": r"free\s+gift", "regex": True}]
    first = alice.client().patch(URL, {"blocklist": terms}, format="json").json()["blocklist"]
    assert len(first) == 2
    second = alice.client().patch(URL, {"blocklist": [*terms, {"text": "激安"}]}, format="json").json()["blocklist"]
    assert [item["id"] for item in second[:2]] == [item["id"] for item in first]


def test_blocklist_terms_are_shown_only_to_admins_and_reviewers(alice, tenant_a):
    alice.client().patch(URL, {"blocklist": [{"text": "激安"}]}, format="json")
    reader = make_api_key(tenant_a, Scope.JOBS_READ, name="reader").token
    reviewer = make_api_key(tenant_a, Scope.JOBS_READ, Scope.REVIEWS_WRITE, name="reviewer").token

    def blocklist(token):
        return _client(token).get(URL).json()["blocklist"]

    assert blocklist(reviewer)[0]["text"] == "激安"
    assert "text" not in blocklist(reader)[0] and "激安" not in str(blocklist(reader))


def test_a_storefront_key_cannot_read_and_a_non_admin_cannot_write(alice, tenant_a):
    shop = make_api_key(tenant_a, Scope.ASSETS_READ, name="web-shop")
    assert _client(shop.token).get(URL).status_code == 403
    editor = make_api_key(tenant_a, Scope.JOBS_READ, Scope.JOBS_WRITE, name="editor")
    assert _client(editor.token).patch(URL, {"review_rule": "never"}, format="json").status_code == 403
    assert not SafetyConfig.objects.for_tenant(alice.tenant).exists()


def test_the_presets_are_listed(alice):
    presets = {p["preset"]: p for p in alice.client().get("/api/v1/safety-config/presets").json()["results"]}
    assert set(presets) == {"general", "financial_services", "healthcare", "childrens_media"}
    for strict in ("healthcare", "childrens_media"):
        assert presets[strict]["review_rule"] == presets[strict]["limits"]["review_rule"] == "always"
        assert set(presets[strict]["limits"]["output_thresholds"].values()) == {2}
    assert (
        presets["general"]["review_rule"] == "flagged_only" and presets["general"]["limits"]["review_rule"] == "never"
    )
