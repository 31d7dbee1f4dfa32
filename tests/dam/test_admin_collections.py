"""Collections in the staff UI: created by the API's service, with its rules and its audit event."""

from __future__ import annotations

import pytest
from django.test import Client

from dam.models import Collection
from governance.models import AuditEvent
from tests.support.errors import error_message

pytestmark = pytest.mark.django_db

ADD = "/admin/dam/collection/add/"


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def form_errors(response, field: str) -> list[str]:
    return list(response.context["adminform"].form.errors.get(field, []))


def test_the_admin_creates_a_collection_with_its_audit_event(alice):
    response = signed_in(alice.user).post(ADD, {"slug": "summer-26", "name": "Summer 2026"})

    assert response.status_code == 302, response.content[:500]
    collection = Collection.objects.for_tenant(alice.tenant).get(slug="summer-26")
    assert collection.name == "Summer 2026"
    event = AuditEvent.objects.for_tenant(alice.tenant).get(action="collection.created")
    assert event.target_id == str(collection.pk)
    assert event.actor_label == "user:alice"
    assert event.payload == {"slug": "summer-26", "name": "Summer 2026"}


@pytest.mark.parametrize(
    ("slug", "field"),
    [
        ("summer-26", "slug"),  # taken: the API's 400 "already exists", not the existing row handed back
        ("Summer_26", "slug"),  # a Django slug, but not one the API accepts
    ],
)
def test_the_admin_refuses_what_the_api_refuses_with_the_same_message(alice, slug, field):
    alice.client().post("/api/v1/collections", {"slug": "summer-26", "name": "Summer"}, format="json")
    rows, events = Collection.unscoped.count(), AuditEvent.unscoped.count()

    api = alice.client().post("/api/v1/collections", {"slug": slug, "name": "Other"}, format="json")
    page = signed_in(alice.user).post(ADD, {"slug": slug, "name": "Other"})

    assert api.status_code == 400
    assert page.status_code == 200  # the form again, with the service's message on the field
    assert form_errors(page, field) == [error_message(api, field)]
    assert Collection.unscoped.count() == rows
    assert AuditEvent.unscoped.count() == events
    assert Collection.objects.for_tenant(alice.tenant).get(slug="summer-26").name == "Summer"


def test_a_viewer_cannot_add_a_collection(alice, bob):
    response = signed_in(bob.user).post(ADD, {"slug": "summer-26", "name": "Summer"})

    assert response.status_code == 403
    assert not Collection.unscoped.exists()
    assert not AuditEvent.unscoped.filter(action="collection.created").exists()


def test_the_collection_lands_in_the_staff_members_tenant_only(alice, charlie):
    signed_in(charlie.user).post(ADD, {"slug": "summer-26", "name": "B's summer"})

    assert not Collection.objects.for_tenant(alice.tenant).exists()
    assert Collection.objects.for_tenant(charlie.tenant).get(slug="summer-26").name == "B's summer"
