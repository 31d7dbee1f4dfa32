from __future__ import annotations

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from tenants.services import tenant_create


class Command(BaseCommand):
    help = "Create a tenant (a brand)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("slug")
        parser.add_argument("--name", required=True)
        parser.add_argument("--time-zone", default="UTC", help="IANA time zone used for budget months")

    def handle(self, *args, slug: str, name: str, time_zone: str, **options) -> None:
        try:
            tenant = tenant_create(slug=slug, name=name, time_zone=time_zone)
        except ValidationError as exc:
            raise CommandError("; ".join(f"{k}: {' '.join(v)}" for k, v in exc.message_dict.items())) from None
        self.stdout.write(self.style.SUCCESS(f"created tenant {tenant.slug} ({tenant.name})"))
