from __future__ import annotations

from django.core.validators import MinValueValidator
from django.db import models

from generation.foundry.config import DEFAULT_API_VERSION, ApiStyle, AuthKind, DeploymentConfig, Secret
from generation.foundry.encryption import decrypt_secret, encrypt_secret
from tenants.scoping import TenantOwnedModel


class FoundryConnection(models.Model):
    """How to reach one Foundry / Azure OpenAI deployment of the image model: shared by a tenant's own
    deployment and a pool's members.

    The api-key is stored only as Fernet ciphertext; the clear value exists solely inside a
    `Secret` while a `DeploymentConfig` is in use.
    """

    class ApiStyleChoice(models.TextChoices):
        DEPLOYMENTS = ApiStyle.DEPLOYMENTS.value, "/openai/deployments/{deployment}/… ?api-version="
        V1 = ApiStyle.V1.value, "/openai/v1/… with model"

    class AuthKindChoice(models.TextChoices):
        API_KEY = AuthKind.API_KEY.value, "api-key header"
        ENTRA = AuthKind.ENTRA.value, "Entra ID (managed identity / DefaultAzureCredential)"

    name = models.CharField(max_length=100)
    endpoint = models.URLField(max_length=300, help_text="e.g. https://my-resource.openai.azure.com")
    deployment = models.CharField(max_length=100, help_text="Deployment name (or model name for the v1 style)")
    api_style = models.CharField(max_length=16, choices=ApiStyleChoice.choices, default=ApiStyleChoice.DEPLOYMENTS)
    api_version = models.CharField(max_length=40, default=DEFAULT_API_VERSION, blank=True)
    auth_kind = models.CharField(max_length=16, choices=AuthKindChoice.choices, default=AuthKindChoice.API_KEY)
    api_key_ciphertext = models.TextField(blank=True, editable=False)
    connect_timeout_seconds = models.FloatField(default=10.0, validators=[MinValueValidator(0.1)])
    read_timeout_seconds = models.FloatField(default=180.0, validators=[MinValueValidator(0.1)])
    rpm = models.PositiveIntegerField(default=60, help_text="Requests per minute allowed by the deployment's quota")
    tpm = models.PositiveIntegerField(default=600_000, help_text="Tokens per minute allowed by the quota")
    max_attempts = models.PositiveSmallIntegerField(default=4, validators=[MinValueValidator(1)])
    max_retry_seconds = models.FloatField(default=300.0, validators=[MinValueValidator(1)])
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True

    @property
    def has_api_key(self) -> bool:
        return bool(self.api_key_ciphertext)

    def set_api_key(self, api_key: Secret | str | None) -> None:
        """Encrypt and keep the key (not saved until `save()`); None or empty clears it."""
        if api_key is None or (api_key.reveal() if isinstance(api_key, Secret) else api_key) == "":
            self.api_key_ciphertext = ""
        else:
            self.api_key_ciphertext = encrypt_secret(api_key)

    def api_key(self) -> Secret | None:
        return decrypt_secret(self.api_key_ciphertext) if self.api_key_ciphertext else None

    def config_name(self) -> str:
        raise NotImplementedError

    def endpoint_chosen_by_tenant(self) -> bool:
        """A tenant, not an operator, chose the endpoint: its calls may go to public addresses only."""
        return False

    def to_config(self) -> DeploymentConfig:
        return DeploymentConfig(
            name=self.config_name(),
            endpoint=self.endpoint,
            deployment=self.deployment,
            api_style=ApiStyle(self.api_style),
            api_version=self.api_version,
            auth_kind=AuthKind(self.auth_kind),
            api_key=self.api_key() if self.auth_kind == AuthKind.API_KEY else None,
            connect_timeout_seconds=self.connect_timeout_seconds,
            read_timeout_seconds=self.read_timeout_seconds,
            rpm=self.rpm,
            tpm=self.tpm,
            max_attempts=self.max_attempts,
            max_retry_seconds=self.max_retry_seconds,
            public_only=self.endpoint_chosen_by_tenant(),
        )


class Deployment(TenantOwnedModel, FoundryConnection):
    """A tenant's own default deployment of the image model (one pool member of its own, in effect)."""

    tenant = models.ForeignKey("tenants.Tenant", on_delete=models.CASCADE, related_name="foundry_deployments")
    is_default = models.BooleanField(default=False, help_text="Used for this tenant's jobs unless a job names another")

    class Meta(TenantOwnedModel.Meta):
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "name"], name="deployment_unique_name_per_tenant"),
            models.UniqueConstraint(
                fields=["tenant"], condition=models.Q(is_default=True), name="deployment_one_default_per_tenant"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.deployment})"

    def config_name(self) -> str:
        return f"tenant-{self.tenant_id}/{self.name}"
