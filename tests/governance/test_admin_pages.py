"""Safety configuration versions and review decisions in the staff UI: read-only, one tenant's rows."""

from __future__ import annotations

import pytest
from django.test import Client

from dam.services.review import Reviewer, version_approve
from governance.services.safety import safety_config_update
from tests.factories import make_asset

pytestmark = pytest.mark.django_db


def test_the_staff_ui_lists_the_tenants_safety_versions_and_review_decisions(alice, charlie):
    safety_config_update(tenant=alice.tenant, preset="childrens_media")
    safety_config_update(tenant=charlie.tenant, preset="healthcare")
    asset = make_asset(alice.tenant, title="hero")
    version_approve(version=asset.current_version, reviewer=Reviewer(api_key=alice.api_key), comment="looks right")
    client = Client()
    client.force_login(alice.user)
    configs = client.get("/admin/governance/safetyconfig/")
    decisions = client.get("/admin/dam/reviewdecision/")
    assert configs.status_code == decisions.status_code == 200
    assert b"Children" in configs.content and b"Healthcare" not in configs.content
    assert b"looks right" in decisions.content
    assert client.get("/admin/governance/safetyconfig/add/").status_code == 403
    # Review decisions live with the library now; the old address still leads there.
    moved = client.get("/admin/governance/reviewdecision/?action=approve")
    assert moved.status_code == 302 and moved["Location"] == "/admin/dam/reviewdecision/?action=approve"
