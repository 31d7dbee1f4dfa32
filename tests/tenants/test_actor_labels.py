"""Who acted is labelled one way wherever it is shown: the audit trail, review decisions, the API."""

from __future__ import annotations

import pytest

from dam.services.review import Reviewer
from tenants.api.authentication import ApiKeyPrincipal
from tenants.audit import Actor
from tenants.models import Scope
from tests.factories import make_api_key

pytestmark = pytest.mark.django_db


def test_a_key_is_the_actor_even_with_a_person_behind_it_and_every_entry_labels_it_alike(alice):
    key = make_api_key(alice.tenant, Scope.REVIEWS_WRITE, created_by=alice.user).api_key
    expected = f"api-key:{key.prefix}"
    assert Actor.of(user=alice.user, api_key=key) == Actor(Actor.API_KEY, str(key.pk), expected)
    assert Reviewer(user=alice.user, api_key=key).label == expected
    assert str(ApiKeyPrincipal(api_key=key)) == expected
    assert Reviewer(user=alice.user).label == Actor.for_user(alice.user).label == f"user:{alice.user.get_username()}"
    assert Actor.of() == Actor.system("unattributed")


def test_the_tenant_endpoint_names_the_actor_as_the_audit_trail_does(alice):
    response = alice.client().get("/api/v1/tenant")
    assert response.status_code == 200
    assert response.json()["actor"] == Actor.for_api_key(alice.api_key).label
