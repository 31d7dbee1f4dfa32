"""Make sure the configured blob storage is ready (creates the Azure container on first run)."""

from __future__ import annotations

import contextlib

from django.conf import settings
from django.core.files.storage import default_storage
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Create the blob container/bucket of the configured storage backend if it is missing."

    def handle(self, *args, **options) -> None:
        if settings.STORAGE_BACKEND == "azure":
            from azure.core.exceptions import ResourceExistsError

            with contextlib.suppress(ResourceExistsError):
                default_storage.client.create_container()
            self.stdout.write(f"azure container {default_storage.azure_container!r} ready")
        elif settings.STORAGE_BACKEND == "s3":
            bucket = default_storage.bucket
            if not bucket.creation_date:
                bucket.create()
            self.stdout.write(f"s3 bucket {bucket.name!r} ready")
        else:
            default_storage.exists("")  # local: the directory is created on first write
            self.stdout.write(f"local storage at {settings.MEDIA_ROOT}")
