"""The Azure Blob backend (django-storages) against Azurite: blobs, delivery and the backend's own signed URLs."""

from __future__ import annotations

import hashlib
import uuid

import httpx
import pytest
from azure.storage.blob import BlobServiceClient
from django.core.files.storage import storages
from django.test import override_settings

from dam.blobs import blob_put, blob_read, blob_url
from dam.selectors.storefront import version_path
from tests.factories import png_bytes, storefront_asset
from tests.fixtures.azurite import azure_storages

pytestmark = pytest.mark.django_db


@pytest.fixture
def azure_storage(azurite):
    container = f"dam-{uuid.uuid4().hex[:12]}"
    BlobServiceClient.from_connection_string(azurite.connection_string).create_container(container)
    with override_settings(STORAGE_BACKEND="azure", STORAGES=azure_storages(azurite.connection_string, container)):
        yield container


def test_blobs_round_trip_through_azurite_and_are_written_once(azure_storage, azurite, tenant_a):
    assert type(storages["default"]).__name__ == "AzureStorage"
    data = png_bytes(colour=(3, 4, 5))
    first = blob_put(tenant_id=tenant_a.pk, kind="originals", data=data, image_format="png")
    second = blob_put(tenant_id=tenant_a.pk, kind="originals", data=data, image_format="png")
    assert first == second and blob_read(first.key) == data
    container = BlobServiceClient.from_connection_string(azurite.connection_string).get_container_client(azure_storage)
    assert [blob.name for blob in container.list_blobs()] == [first.key]
    assert container.download_blob(first.key).readall() == data


def test_the_backends_signed_url_serves_the_bytes_and_refuses_tampering(azure_storage, tenant_a):
    data = png_bytes(colour=(6, 7, 8))
    blob = blob_put(tenant_id=tenant_a.pk, kind="originals", data=data, image_format="png")
    url = blob_url(blob.key)
    assert "sig=" in url and url.startswith("http://127.0.0.1:")
    assert httpx.get(url).content == data
    tampered = url.replace("sp=r", "sp=rw") if "sp=r" in url else url.replace("sig=", "sig=A")
    assert httpx.get(tampered).status_code == 403


def test_delivery_proxies_from_azure_with_immutable_caching(azure_storage, alice, client):
    asset = storefront_asset(alice.tenant)
    version = asset.current_version
    path = version_path(version_id=version.pk, spec="original", sha256=version.sha256, image_format=version.format)
    response = client.get(path)
    assert response.status_code == 200
    assert hashlib.sha256(b"".join(response.streaming_content)).hexdigest() == version.sha256
    assert response["Cache-Control"] == "public, max-age=31536000, immutable"
    assert client.get(path, HTTP_IF_NONE_MATCH=response["ETag"]).status_code == 304


def test_storage_mode_redirects_to_the_backends_own_signed_url(azure_storage, alice, client):
    asset = storefront_asset(alice.tenant)
    rendition = asset.current_version.renditions.get()
    path = version_path(
        version_id=rendition.version_id, spec=rendition.spec, sha256=rendition.sha256, image_format=rendition.format
    )
    with override_settings(DELIVERY_MODE="storage"):
        response = client.get(path)
    assert response.status_code == 302 and response["Cache-Control"].startswith("private")
    fetched = httpx.get(response["Location"])
    assert fetched.status_code == 200 and hashlib.sha256(fetched.content).hexdigest() == rendition.sha256
