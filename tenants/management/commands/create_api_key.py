from __future__ import annotations

from datetime import timedelta

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from tenants.models import Scope, Tenant
from tenants.services import api_key_create


class Command(BaseCommand):
    help = "Issue an API key for a tenant. The secret is printed once and never stored."

    def add_arguments(self, parser) -> None:
        parser.add_argument("tenant", help="tenant slug")
        parser.add_argument("--name", required=True)
        parser.add_argument(
            "--scope",
            action="append",
            dest="scopes",
            required=True,
            choices=Scope.values,
            help="repeat for several scopes",
        )
        parser.add_argument("--expires-in-days", type=int, default=None)

    def handle(self, *args, tenant: str, name: str, scopes: list[str], expires_in_days: int | None, **options) -> None:
        tenant_obj = Tenant.objects.filter(slug=tenant).first()
        if tenant_obj is None:
            raise CommandError(f"no tenant with slug {tenant!r}")
        expires_at = timezone.now() + timedelta(days=expires_in_days) if expires_in_days else None
        try:
            issued = api_key_create(tenant=tenant_obj, name=name, scopes=scopes, expires_at=expires_at)
        except ValidationError as exc:
            raise CommandError("; ".join(f"{k}: {' '.join(v)}" for k, v in exc.message_dict.items())) from None
        self.stderr.write(f"API key {issued.api_key.name!r} for {tenant_obj.slug} (scopes: {', '.join(scopes)})")
        self.stderr.write("Store it now: the secret is not kept and cannot be shown again.")
        self.stdout.write(issued.token)
