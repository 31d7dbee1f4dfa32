"""Give a tenant (or the platform) a new C2PA signing key; the key it replaces is retired, never deleted.

    manage.py create_signing_key acme                      # a key from the local dev CA (created on first use)
    manage.py create_signing_key --platform                # the platform key (tenants without their own use it)
    manage.py create_signing_key acme --ca-bundle ca.pem   # issued by your CA: root, intermediate, intermediate key
    manage.py create_signing_key acme --chain chain.pem --key key.pem   # a key your CA already certified
    manage.py create_signing_key acme --chain chain.pem --kms-uri <scheme>://...   # the key stays in a KMS/HSM
    manage.py create_signing_key acme --if-missing         # only when the tenant has no active key (make run)

Files signed with the retired key keep verifying: its certificate travels inside their manifests.
"""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from dam.credentials.keys import dev_ca, key_install, key_issue_from_ca, load_local_ca
from dam.models import SigningKey
from tenants.models import Tenant


class Command(BaseCommand):
    help = "Create (rotate) a tenant's or the platform's C2PA signing key."

    def add_arguments(self, parser) -> None:
        parser.add_argument("tenant", nargs="?", help="tenant slug")
        parser.add_argument("--platform", action="store_true", help="the platform key instead of a tenant's")
        parser.add_argument("--ca-bundle", type=Path, help="PEM: root, intermediate CA and its private key")
        parser.add_argument("--chain", type=Path, help="PEM chain of an already issued end-entity certificate")
        parser.add_argument("--key", type=Path, help="its private key (PEM, unencrypted)")
        parser.add_argument("--kms-uri", default="", help="a KMS/HSM key URI instead of --key")
        parser.add_argument("--common-name", default="", help="the certificate's subject (default: tenant name)")
        parser.add_argument("--if-missing", action="store_true", help="do nothing if an active key exists")

    def handle(self, *args, tenant: str | None, platform: bool, **options) -> None:
        if bool(tenant) == platform:
            raise CommandError("name a tenant slug or --platform (not both)")
        owner = None
        if tenant:
            owner = Tenant.objects.filter(slug=tenant).first()
            if owner is None:
                raise CommandError(f"no tenant with slug {tenant!r}")
        tenant_id = owner.pk if owner else None
        if options["if_missing"] and SigningKey.unscoped.filter(tenant_id=tenant_id, active=True).exists():
            self.stderr.write(f"{owner or 'platform'} already has an active signing key")
            return
        try:
            if options["chain"]:
                key = key_install(
                    tenant_id=tenant_id,
                    certificate_chain_pem=options["chain"].read_bytes(),
                    private_key_pem=options["key"].read_bytes() if options["key"] else None,
                    kms_key_uri=options["kms_uri"],
                )
            else:
                ca = load_local_ca(options["ca_bundle"].read_bytes()) if options["ca_bundle"] else dev_ca()
                name = options["common_name"] or (owner.name if owner else settings.C2PA_CLAIM_GENERATOR)
                key = key_issue_from_ca(
                    ca=ca,
                    tenant_id=tenant_id,
                    common_name=f"{name} Content Credentials",
                    organization=owner.name if owner else settings.C2PA_CLAIM_GENERATOR,
                )
        except (ValueError, OSError) as error:
            raise CommandError(str(error)) from None
        retired = SigningKey.unscoped.filter(tenant_id=tenant_id, active=False).count()
        self.stdout.write(
            f"signing key {key.pk} for {owner or 'platform'}: {key.subject} issued by {key.issuer}, serial "
            f"{key.serial_number}, valid until {key.not_after:%Y-%m-%d} ({retired} retired key(s) kept)"
        )
