"""Malformed signatures on delivery URLs are 403 like any forgery, never a 500 (issue #15)."""

from __future__ import annotations

import pytest

from dam.delivery.signing import signed_query
from dam.models import TenantDelivery
from dam.selectors.storefront import current_path, version_path
from tests.factories import storefront_asset

pytestmark = pytest.mark.django_db


@pytest.fixture
def approved(alice):
    TenantDelivery.objects.for_tenant(alice.tenant).create(tenant=alice.tenant, signed_urls_required=True)
    return storefront_asset(alice.tenant)


@pytest.mark.parametrize(
    ("expires", "sig"),
    [
        ("{expires}", "é{sig}"),  # non-ASCII signature: compare_digest raised TypeError
        ("{expires}", "ÿÿÿÿ"),
        ("{expires}", "%E2%80%8B"),  # a zero-width space
        ("²", "{sig}"),  # int() refuses superscripts
        ("٣٣٣٣٣٣٣٣٣٣", "{sig}"),  # ...and takes other scripts' digits
        ("9" * 5000, "{sig}"),  # past int()'s digit limit
        ("-1", "{sig}"),
        ("{expires}", ""),
    ],
)
def test_malformed_signatures_are_403_on_both_delivery_urls(client, approved, expires, sig):
    immutable = version_path(
        version_id=approved.current_version.pk,
        spec="original",
        sha256=approved.current_version.sha256,
        image_format=approved.current_version.format,
    )
    for path in (immutable, current_path(asset_id=approved.pk, placement_slug="pdp-square")):
        good = dict(part.split("=", 1) for part in signed_query(path).split("&"))
        url = f"{path}?expires={expires.format(**good)}&sig={sig.format(**good)}"
        response = client.get(url)
        assert response.status_code == 403, (url, response.status_code)
        assert client.get(f"{path}?{signed_query(path)}").status_code in {200, 302}


def test_a_nul_in_a_signature_is_refused_at_the_root_with_400(client, approved):
    path = current_path(asset_id=approved.pk, placement_slug="pdp-square")
    assert client.get(f"{path}?{signed_query(path)}%00").status_code == 400
