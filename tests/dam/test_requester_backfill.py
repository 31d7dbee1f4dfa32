"""The migrations that keep existing data: keys minted with keys, uploads made with keys and generated
versions get their requester back (issuing key, person behind the key) from the audit trail and the jobs.

Rows written the way the code wrote them before (no issuing key, no person, no upload key) are rebuilt by
the migrations' own statements, run as the migrations run them.
"""

from __future__ import annotations

import importlib

import pytest
from django.apps import apps
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from rest_framework.test import APIClient

from dam.blobs import blob_put
from dam.models import AssetVersion
from dam.services.assets import asset_version_create
from generation.models import Job
from tenants.models import ApiKey, Scope
from tests.factories import png_bytes

pytestmark = pytest.mark.django_db

governance_0005 = importlib.import_module("governance.migrations.0005_backfill_api_key_issuers")
dam_0008 = importlib.import_module("dam.migrations.0008_version_requester_person")
generation_0005 = importlib.import_module("generation.migrations.0005_backfill_version_requesters")


def _client(token: str | None = None, user=None) -> APIClient:
    client = APIClient()
    if user is not None:
        client.force_login(user)
    else:
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


def _mint(client: APIClient, name: str, *scopes: str) -> tuple[str, int]:
    response = client.post("/api/v1/api-keys", {"name": name, "scopes": list(scopes)}, format="json")
    assert response.status_code == 201, response.content
    return response.json()["token"], response.json()["id"]


def _run_backfill() -> None:
    with connection.schema_editor(atomic=True) as editor:
        governance_0005.persons_down_the_chains(apps, editor)
        with connection.cursor() as cursor:
            cursor.execute(dam_0008.UPLOAD_KEYS)
            cursor.execute(dam_0008.PERSONS)
            cursor.execute(generation_0005.FROM_JOBS)


def test_the_migrations_give_old_keys_uploads_and_generated_versions_their_requesters(alice):
    k1_token, k1 = _mint(
        _client(user=alice.user), "k1", Scope.ADMIN, Scope.ASSETS_WRITE, Scope.JOBS_WRITE, Scope.JOBS_READ
    )
    k2_token, k2 = _mint(_client(k1_token), "k2", Scope.ADMIN, Scope.ASSETS_WRITE, Scope.JOBS_WRITE, Scope.JOBS_READ)
    k3_token, k3 = _mint(_client(k2_token), "k3", Scope.ASSETS_WRITE)
    upload = _client(k3_token).post(
        "/api/v1/assets",
        {"file": SimpleUploadedFile("photo.png", png_bytes(colour=(200, 10, 10))), "title": "photo"},
        format="multipart",
    )
    assert upload.status_code == 201, upload.content
    uploaded = AssetVersion.objects.for_tenant(alice.tenant).get(asset_id=upload.json()["id"])
    job = _client(k2_token).post("/api/v1/jobs", {"prompt": "a canoe", "quality": "low"}, format="json")
    assert job.status_code == 202, job.content
    job = Job.objects.for_tenant(alice.tenant).get(pk=job.json()["id"])  # queued: no worker in this test
    blob = blob_put(tenant_id=alice.tenant.pk, kind="originals", data=png_bytes(colour=(3, 4, 5)), image_format="png")
    generated = asset_version_create(
        asset=uploaded.asset, blob=blob, width=64, height=48, image_format="png", job_id=job.pk
    )
    # As the code before these migrations left them: no issuing key or person, no upload key, no person.
    ApiKey.objects.for_tenant(alice.tenant).filter(pk__in=[k2, k3]).update(created_by=None, created_by_key=None)
    AssetVersion.objects.for_tenant(alice.tenant).filter(pk__in=[uploaded.pk, generated.pk]).update(
        created_by_key=None, created_by_person=None
    )

    _run_backfill()

    keys = {k.pk: (k.created_by_key_id, k.created_by_id) for k in ApiKey.objects.for_tenant(alice.tenant)}
    assert keys[k1] == (None, alice.user.pk)
    assert keys[k2] == (k1, alice.user.pk)
    assert keys[k3] == (k2, alice.user.pk)
    assert keys[alice.api_key.pk] == (None, None)  # provisioned without a person: nothing to derive
    for version, key in ((uploaded, k3), (generated, k2)):
        version.refresh_from_db()
        assert (version.created_by_id, version.created_by_key_id, version.created_by_person_id) == (
            None,
            key,
            alice.user.pk,
        )
