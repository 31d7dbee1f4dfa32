from __future__ import annotations

import hashlib

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.utils import timezone

from tenants.scoping import TenantOwnedModel


class Tenant(models.Model):
    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        SUSPENDED = "suspended", "Suspended"

    slug = models.SlugField(max_length=63, unique=True)
    name = models.CharField(max_length=200)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ACTIVE)
    time_zone = models.CharField(max_length=64, default="UTC")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["slug"]

    def __str__(self) -> str:
        return self.slug

    @property
    def is_active(self) -> bool:
        return self.status == self.Status.ACTIVE


class Role(models.TextChoices):
    OWNER = "owner", "Owner"
    ADMIN = "admin", "Admin"
    EDITOR = "editor", "Editor"
    REVIEWER = "reviewer", "Reviewer"
    VIEWER = "viewer", "Viewer"


class Scope(models.TextChoices):
    ASSETS_READ = "assets:read", "Read approved assets"
    ASSETS_WRITE = "assets:write", "Upload and edit assets"
    JOBS_READ = "jobs:read", "Read generation jobs"
    JOBS_WRITE = "jobs:write", "Submit and cancel generation jobs"
    REVIEWS_WRITE = "reviews:write", "Review and approve"
    COSTS_READ = "costs:read", "Read costs and budgets"
    ADMIN = "admin", "Manage the tenant"


# What a signed-in staff member may do follows their role; API keys carry explicit scopes.
ROLE_SCOPES: dict[str, frozenset[str]] = {
    Role.VIEWER: frozenset({Scope.ASSETS_READ, Scope.JOBS_READ, Scope.COSTS_READ}),
    Role.EDITOR: frozenset(
        {Scope.ASSETS_READ, Scope.ASSETS_WRITE, Scope.JOBS_READ, Scope.JOBS_WRITE, Scope.COSTS_READ}
    ),
    Role.REVIEWER: frozenset({Scope.ASSETS_READ, Scope.JOBS_READ, Scope.REVIEWS_WRITE, Scope.COSTS_READ}),
    Role.ADMIN: frozenset(Scope.values),
    Role.OWNER: frozenset(Scope.values),
}


class Membership(TenantOwnedModel):
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=16, choices=Role.choices)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta(TenantOwnedModel.Meta):
        constraints = [models.UniqueConstraint(fields=["tenant", "user"], name="membership_unique_user_per_tenant")]
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.user} @ {self.tenant_id} ({self.role})"

    @property
    def scopes(self) -> frozenset[str]:
        return ROLE_SCOPES[self.role]


def hash_api_key_secret(secret: str) -> str:
    # The secret is 256 bits of randomness: a plain SHA-256 is not brute-forceable, and
    # unlike a slow KDF it keeps per-request authentication cheap.
    return hashlib.sha256(secret.encode()).hexdigest()


class ApiKey(TenantOwnedModel):
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="api_keys")
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=16, unique=True, help_text="Visible part of the key, used to look it up")
    secret_hash = models.CharField(max_length=64)
    scopes = ArrayField(models.CharField(max_length=32, choices=Scope.choices), default=list)
    # The person behind the key: who minted it, or, for a key minted with another key, the person behind
    # that key (so the root of the chain). Null only for keys provisioned without a person (commands).
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # The key this one was minted with (POST /api-keys authenticated by a key): the chain four-eyes follows.
    created_by_key = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta(TenantOwnedModel.Meta):
        ordering = ["id"]
        verbose_name = "API key"

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_revoked(self) -> bool:
        return self.revoked_at is not None

    def is_expired(self, *, now=None) -> bool:
        return self.expires_at is not None and self.expires_at <= (now or timezone.now())
