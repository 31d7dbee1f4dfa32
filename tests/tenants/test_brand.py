import threading

import pytest
from django.db import connection

from tenants.models import BrandPolicy, Placement
from tenants.services import brand_policy_update
from tests.support.errors import names_field

pytestmark = pytest.mark.django_db


def test_updating_the_policy_creates_a_new_version_and_keeps_the_old_one(alice):
    api = alice.client()
    first = api.put(
        "/api/v1/brand-policy/current", {"style_guide": "Warm light.", "palette": ["#ff6600"]}, format="json"
    )
    second = api.patch("/api/v1/brand-policy/current", {"banned_terms": ["cheap"]}, format="json")
    assert (first.status_code, second.status_code) == (201, 201)
    assert (first.json()["version"], second.json()["version"]) == (1, 2)
    current = api.get("/api/v1/brand-policy/current").json()
    assert current["version"] == 2
    assert current["style_guide"] == "Warm light." and current["palette"] == ["#FF6600"]
    assert current["banned_terms"] == ["cheap"]
    v1 = BrandPolicy.objects.for_tenant(alice.tenant).get(version=1)
    assert v1.banned_terms == [] and v1.style_guide == "Warm light."


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"palette": ["orange"]}, "palette"),
        ({"default_locales": ["Japanese"]}, "default_locales"),
        ({"default_quality": "ultra"}, "default_quality"),
        ({"banned_terms": ["  "]}, "banned_terms"),
    ],
)
def test_bad_policy_values_are_400_naming_the_field_and_create_nothing(alice, body, field):
    response = alice.client().patch("/api/v1/brand-policy/current", body, format="json")
    assert response.status_code == 400 and names_field(response, field)
    assert not BrandPolicy.objects.for_tenant(alice.tenant).exists()


@pytest.mark.django_db(transaction=True)
def test_concurrent_policy_updates_get_consecutive_versions(tenant_a):
    errors = []

    def update(i: int) -> None:
        try:
            brand_policy_update(tenant=tenant_a, style_guide=f"edit {i}")
        except Exception as exc:  # collected and asserted below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=update, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    versions = sorted(BrandPolicy.objects.for_tenant(tenant_a).values_list("version", flat=True))
    assert versions == list(range(1, 9))


def test_placements_are_created_validated_and_archived(alice):
    api = alice.client()
    created = api.post(
        "/api/v1/placements",
        {"slug": "leaderboard", "width": 970, "height": 250, "output_format": "png"},
        format="json",
    )
    assert created.status_code == 201, created.content
    duplicate = api.post("/api/v1/placements", {"slug": "leaderboard", "width": 1, "height": 1}, format="json")
    assert duplicate.status_code == 400
    too_big = api.post("/api/v1/placements", {"slug": "huge", "width": 20000, "height": 250}, format="json")
    assert too_big.status_code == 400 and names_field(too_big, "width")
    bad_format = api.post(
        "/api/v1/placements", {"slug": "g", "width": 100, "height": 100, "output_format": "gif"}, format="json"
    )
    assert bad_format.status_code == 400 and names_field(bad_format, "output_format")
    pk = created.json()["id"]
    assert api.post(f"/api/v1/placements/{pk}/archive").json()["archived"] is True
    assert api.get("/api/v1/placements").json()["results"] == []
    assert Placement.objects.for_tenant(alice.tenant).count() == 1
