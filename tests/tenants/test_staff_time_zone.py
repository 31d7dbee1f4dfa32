"""Staff pages show times in the tenant's time zone and say which; the API keeps UTC."""

from __future__ import annotations

import datetime as dt

import pytest

from dam.models import AssetVersion
from tenants.models import Tenant
from tests.factories import make_asset
from tests.support.generate_page import signed_in

pytestmark = pytest.mark.django_db

CREATED = dt.datetime(2026, 1, 1, 0, 30, tzinfo=dt.UTC)


def test_the_asset_page_shows_times_in_the_tenants_zone_and_the_api_in_utc(alice):
    Tenant.objects.filter(pk=alice.tenant.pk).update(time_zone="Asia/Tokyo")
    asset = make_asset(alice.tenant, title="hero")
    AssetVersion.objects.for_tenant(alice.tenant).filter(asset=asset).update(created_at=CREATED)
    page = signed_in(alice.user).get(f"/admin/dam/asset/{asset.pk}/change/").content.decode()
    assert "2026-01-01 09:30" in page and "2026-01-01 00:30" not in page
    assert "times in Asia/Tokyo" in page
    versions = alice.client().get(f"/api/v1/assets/{asset.pk}/versions").json()
    assert versions["results"][0]["created_at"].startswith("2026-01-01T00:30:00")
