import os
import time
from io import StringIO

import pytest
from django.core.files.storage import default_storage
from django.core.management import call_command

from dam.blobs import blob_put, blob_read
from tests.factories import make_asset, png_bytes

pytestmark = pytest.mark.django_db


@pytest.mark.local_storage
def test_blobs_are_content_addressed_and_written_once(tenant_a):
    data = png_bytes(colour=(1, 2, 3))
    first = blob_put(tenant_id=tenant_a.pk, kind="originals", data=data, image_format="png")
    second = blob_put(tenant_id=tenant_a.pk, kind="originals", data=data, image_format="png")
    assert first == second
    assert first.key.startswith(f"tenants/{tenant_a.pk}/originals/{first.sha256[:2]}/")
    assert blob_read(first.key) == data
    directory = os.path.dirname(default_storage.path(first.key))
    assert os.listdir(directory) == [os.path.basename(first.key)]


@pytest.mark.local_storage
def test_cleanup_removes_only_old_unreferenced_blobs(tenant_a):
    asset = make_asset(tenant_a, colour=(9, 9, 9))
    kept = asset.current_version.storage_key
    orphan = blob_put(tenant_id=tenant_a.pk, kind="originals", data=png_bytes(colour=(7, 7, 7)), image_format="png")
    fresh_orphan = blob_put(
        tenant_id=tenant_a.pk, kind="originals", data=png_bytes(colour=(8, 8, 8)), image_format="png"
    )
    old = time.time() - 3 * 3600
    for key in (kept, orphan.key):
        os.utime(default_storage.path(key), (old, old))

    out = StringIO()
    call_command("cleanup_orphan_blobs", stdout=out)
    assert f"removed {orphan.key}" in out.getvalue()
    assert default_storage.exists(kept)
    assert not default_storage.exists(orphan.key)
    assert default_storage.exists(fresh_orphan.key)  # within the grace period: may belong to a running job


@pytest.mark.local_storage
def test_a_truncated_blob_left_by_a_killed_writer_is_rewritten_whole(tenant_a):
    data = png_bytes(colour=(4, 5, 6))
    expected = blob_put(tenant_id=tenant_a.pk, kind="originals", data=data, image_format="png")
    with open(default_storage.path(expected.key), "wb") as handle:
        handle.write(data[:10])  # what a SIGKILL during the filesystem backend's in-place write leaves

    again = blob_put(tenant_id=tenant_a.pk, kind="originals", data=data, image_format="png")

    assert again == expected
    assert blob_read(expected.key) == data
    directory = os.path.dirname(default_storage.path(expected.key))
    assert os.listdir(directory) == [os.path.basename(expected.key)]
