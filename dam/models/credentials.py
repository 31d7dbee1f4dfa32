"""Content Credentials (C2PA) signing keys: one active key per tenant, or the platform's (tenant null).

A key is an X.509 end-entity certificate chain issued by a CA (C2PA refuses a self-signed end-entity
certificate) and its private key, stored encrypted (Fernet, FIELD_ENCRYPTION_KEY, dam.credentials.keys). Rotation
adds a new active key and retires the old one; a retired key is never used to sign again but is kept: its
certificate is embedded in every manifest it signed, so those files keep verifying without it.

`kms_key_uri` names a key held in a KMS/HSM instead of `private_key_encrypted`; the signer calls out through
`dam.credentials.signing.register_remote_signer` (the private key never reaches the database).
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q


class SigningKey(models.Model):
    # Not a TenantOwnedModel: a null tenant is the platform key (used for tenants without their own).
    tenant = models.ForeignKey(
        "tenants.Tenant", null=True, blank=True, on_delete=models.PROTECT, related_name="signing_keys"
    )
    algorithm = models.CharField(max_length=8, default="es256")  # c2pa's name: es256, es384, ps256, ed25519...
    certificate_chain_pem = models.TextField(help_text="end-entity certificate first, then intermediates (no root)")
    private_key_encrypted = models.TextField(blank=True)  # Fernet token of the PKCS#8 PEM; blank with a KMS key
    kms_key_uri = models.CharField(max_length=500, blank=True)
    subject = models.CharField(max_length=300)  # the certificate's subject, for people
    issuer = models.CharField(max_length=300)
    serial_number = models.CharField(max_length=64)  # hex
    not_after = models.DateTimeField()
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    retired_at = models.DateTimeField(null=True, blank=True)

    unscoped = models.Manager()
    objects = models.Manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            # At most one active key per tenant, and one active platform key.
            models.UniqueConstraint(
                fields=["tenant"], condition=Q(active=True, tenant__isnull=False), name="one_active_signing_key"
            ),
            models.UniqueConstraint(
                fields=["active"], condition=Q(active=True, tenant__isnull=True), name="one_active_platform_key"
            ),
            models.CheckConstraint(
                condition=~Q(private_key_encrypted="", kms_key_uri=""), name="signing_key_has_a_private_key"
            ),
        ]

    def __str__(self) -> str:
        owner = f"tenant {self.tenant_id}" if self.tenant_id else "platform"
        return f"{owner} signing key {self.serial_number[:12]} ({'active' if self.active else 'retired'})"
