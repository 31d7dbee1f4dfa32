"""Bring existing assets up to the library's current state: search vectors, and optionally up-front renditions.

Needed once after upgrading a database that has assets from before full-text search (their
vector is empty, so search cannot find them), and after adding placements or presets that
existing versions should get.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from dam.models import Asset
from dam.selectors.search import asset_search_refresh
from dam.tasks import generate_up_front
from tenants.models import Tenant


class Command(BaseCommand):
    help = "Rebuild asset search vectors; with --renditions, queue the missing up-front renditions too."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--tenant", help="a tenant slug (default: every tenant)")
        parser.add_argument("--renditions", action="store_true", help="queue up-front renditions of current versions")

    def handle(self, *args, tenant: str | None = None, renditions: bool = False, **options) -> None:
        tenants = Tenant.objects.order_by("pk")
        if tenant:
            tenants = tenants.filter(slug=tenant)
            if not tenants.exists():
                raise CommandError(f"no tenant {tenant!r}")
        for each in tenants:
            assets = Asset.objects.for_tenant(each).values_list("pk", "current_version_id")
            queued = 0
            for asset_id, version_id in assets.iterator():
                asset_search_refresh(asset_id=asset_id, tenant_id=each.pk)
                if renditions and version_id:
                    generate_up_front.delay(version_id)
                    queued += 1
            self.stdout.write(f"{each.slug}: {assets.count()} assets reindexed, {queued} rendition tasks queued")
