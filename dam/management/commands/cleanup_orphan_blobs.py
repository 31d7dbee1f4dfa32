"""Remove blobs that no version, rendition or recorded provider response points at (a crash between blob and row)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

from django.core.files.storage import default_storage
from django.core.management.base import BaseCommand
from django.utils import timezone

from dam.selectors.assets import storage_keys_in_use

BATCH = 500


def _walk(prefix: str) -> Iterator[str]:
    directories, files = default_storage.listdir(prefix)
    for name in files:
        yield f"{prefix}/{name}" if prefix else name
    for directory in directories:
        yield from _walk(f"{prefix}/{directory}" if prefix else directory)


class Command(BaseCommand):
    help = "Delete unreferenced blobs under tenants/ older than a grace period (default 1 hour)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--grace-minutes", type=int, default=60, help="younger blobs may belong to a running job")
        parser.add_argument("--dry-run", action="store_true")

    def handle(self, *args, grace_minutes: int, dry_run: bool, **options) -> None:
        cutoff = timezone.now() - timedelta(minutes=grace_minutes)
        scanned = removed = 0
        batch: list[str] = []

        def flush() -> None:
            nonlocal removed
            in_use = storage_keys_in_use(keys=batch)
            for key in batch:
                if key in in_use or default_storage.get_modified_time(key) > cutoff:
                    continue
                if not dry_run:
                    default_storage.delete(key)
                removed += 1
                self.stdout.write(f"{'would remove' if dry_run else 'removed'} {key}")
            batch.clear()

        if not default_storage.exists("tenants"):
            self.stdout.write("no blobs yet")
            return
        for key in _walk("tenants"):
            batch.append(key)
            scanned += 1
            if len(batch) >= BATCH:
                flush()
                self.stdout.write(f"… scanned {scanned} blobs, {removed} orphans so far")
        if batch:
            flush()
        self.stdout.write(
            self.style.SUCCESS(f"scanned {scanned} blobs, {'found' if dry_run else 'removed'} {removed} orphans")
        )
