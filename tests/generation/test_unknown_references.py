"""Unknown references behave alike (issue #15): a collection, placement or source version a request
names but the tenant lacks is a 400 naming the field, and nothing is created, checked or spent.
Collections are created explicitly, through the collections API (`assets:write`)."""

from __future__ import annotations

import pytest

from dam.models import Collection
from dam.services.metadata import collection_create
from generation.models import Job
from tests.support.errors import error_fields

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("url", ["/api/v1/jobs", "/api/v1/jobs/plan"])
@pytest.mark.parametrize(
    "reference",
    [{"collection": "spring-26"}, {"placements": ["no-such-placement"]}, {"source_version": {"asset": 999999}}],
    ids=lambda reference: next(iter(reference)),
)
def test_an_unknown_reference_is_400_naming_it_and_creates_nothing(alice, charlie, monkeypatch, url, reference):
    (field,) = reference

    def must_not_run(*args, **kwargs):
        raise AssertionError("moderation was called for a request with an unknown reference")

    monkeypatch.setattr("generation.services.submission.moderate_prompt", must_not_run)
    collection_create(tenant=charlie.tenant, slug="spring-26")  # another tenant's is unknown here too
    response = alice.client().post(url, {"prompt": "a trail shoe", "quality": "low", **reference}, format="json")
    assert response.status_code == 400, response.content
    assert error_fields(response) == {field}
    assert not Collection.objects.for_tenant(alice.tenant).exists()
    assert not Job.objects.for_tenant(alice.tenant).exists()


def test_a_collection_created_explicitly_can_be_named_by_a_job_and_an_upload(alice, bob):
    assert bob.client().post("/api/v1/collections", {"slug": "spring-26"}, format="json").status_code == 403
    created = alice.client().post("/api/v1/collections", {"slug": "spring-26", "name": "Spring"}, format="json")
    assert created.status_code == 201
    body = {"prompt": "a trail shoe", "quality": "low", "collection": "spring-26"}
    assert alice.client().post("/api/v1/jobs/plan", body, format="json").status_code == 200
    assert Collection.objects.for_tenant(alice.tenant).count() == 1
