"""Content-addressed blob storage through django-storages' configured backend.

Keys are `tenants/<tenant id>/<kind>/<sha256[:2]>/<sha256>.<ext>`: the same bytes land on
the same key, so a retried write is harmless and a stored blob never changes. Blobs are
written before the row that points at them; a crash in between leaves an unreferenced
blob that `cleanup_orphan_blobs` removes, never a row pointing at nothing.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from dam.formats import FORMATS


@dataclass(frozen=True)
class StoredBlob:
    key: str
    sha256: str
    size: int

    def row_fields(self) -> dict[str, str | int]:
        """The columns a version or rendition row keeps of its file."""
        return {"storage_key": self.key, "sha256": self.sha256, "file_size": self.size}


def blob_key(*, tenant_id: int, kind: str, sha256: str, image_format: str) -> str:
    return f"tenants/{tenant_id}/{kind}/{sha256[:2]}/{sha256}.{FORMATS[image_format].extension}"


def blob_put(*, tenant_id: int, kind: str, data: bytes, image_format: str) -> StoredBlob:
    sha256 = hashlib.sha256(data).hexdigest()
    key = blob_key(tenant_id=tenant_id, kind=kind, sha256=sha256, image_format=image_format)
    if not blob_intact(key=key, size=len(data)):
        if default_storage.exists(key):
            # A writer killed mid-write (the filesystem backend writes in place) left a truncated file under
            # this content's key: without this, every later write of the same bytes would keep it.
            default_storage.delete(key)
        saved = default_storage.save(key, ContentFile(data))
        if saved != key:
            # A concurrent writer stored the same bytes first; ours got a suffixed name.
            default_storage.delete(saved)
    return StoredBlob(key=key, sha256=sha256, size=len(data))


def blob_intact(*, key: str, size: int) -> bool:
    """The blob is stored whole (content-addressed: the right size under its hash's key is the whole file)."""
    return default_storage.exists(key) and default_storage.size(key) == size


def blob_read(key: str) -> bytes:
    with default_storage.open(key, "rb") as handle:
        return handle.read()


def blob_url(key: str) -> str:
    return default_storage.url(key)
