"""Uploads start where the tenant's review rule puts an image no classifier has seen."""

import io

import pytest
from PIL import Image

from governance.services.safety import safety_config_update
from tenants.services import brand_policy_update

pytestmark = pytest.mark.django_db


def _upload(actor, colour):
    buffer = io.BytesIO()
    Image.new("RGB", (320, 240), colour).save(buffer, format="PNG")
    buffer.seek(0)
    buffer.name = "photo.png"
    response = actor.client().post("/api/v1/assets", {"file": buffer, "title": "photo"}, format="multipart")
    assert response.status_code == 201, response.content
    return response.json()


def _status(body):
    version = body.get("current_version") or body["versions"][-1]
    return version["status"]


def test_an_upload_waits_for_review_under_the_default_rule(alice):
    assert _status(_upload(alice, (10, 20, 30))) == "needs_review"


def test_an_upload_is_approved_when_the_tenant_reviews_nothing(alice):
    brand_policy_update(tenant=alice.tenant, review_required=False)
    safety_config_update(tenant=alice.tenant, review_rule="never")
    assert _status(_upload(alice, (40, 50, 60))) == "approved"
    brand_policy_update(tenant=alice.tenant, review_required=True)
    assert _status(_upload(alice, (70, 80, 90))) == "needs_review"
