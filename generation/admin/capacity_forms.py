"""The capacity page's forms: a pool, a pool member (its key write-only), a tenant's place in a pool.

They check what a person can get wrong in the form (a number, a list of regions, a key the auth kind needs, a name
used twice in the pool); every rule of the capacity plan itself is the service's (`generation.services.capacity`),
whose refusals `add_refusal` puts back on the field they name.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

from django import forms
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError

from generation.foundry.config import DEPLOYMENT_SETTINGS, AuthKind
from generation.models import DeploymentPool, PoolMember, RetryUnknownOutcome, TenantCapacity
from tenants.errors import ServiceError
from tenants.models import Tenant

MEMBER_FIELDS = [*DEPLOYMENT_SETTINGS, "region", "data_zone", "deployment_type", "weight", "priority", "enabled"]
_REGION = re.compile(r"^[a-z0-9]{2,40}$")
_DATA_ZONE = re.compile(r"^[a-z]{2,8}$")


def add_refusal(form: forms.BaseForm, refusal: ServiceError | ValidationError) -> None:
    """A service's refusal shown on the field it names (or above the form when it names none of the form's)."""
    if isinstance(refusal, ServiceError):
        found = {refusal.field.split(".")[0]: [refusal.message]}
    elif hasattr(refusal, "error_dict"):
        found = {name: [m for e in errors for m in e.messages] for name, errors in refusal.error_dict.items()}
    else:
        found = {NON_FIELD_ERRORS: list(refusal.messages)}
    for found_name, messages in found.items():
        name = "pool" if found_name == "pool_id" else found_name
        for message in messages:
            form.add_error(name if name in form.fields else None, message)


def _tenant_label(tenant: Tenant) -> str:
    return f"{tenant.name} ({tenant.slug})"


class PoolForm(forms.Form):
    name = forms.CharField(max_length=100)
    description = forms.CharField(max_length=300, required=False)
    owner = forms.ModelChoiceField(
        queryset=Tenant.objects.order_by("name"),
        required=False,
        to_field_name="slug",
        empty_label="The platform (serves the tenants assigned to it)",
        help_text="A tenant's own pool serves only that tenant.",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["owner"].label_from_instance = _tenant_label

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        name = (cleaned.get("name") or "").strip()
        # The model's unique constraints (per owner, and among platform pools) name no field: here it is the name.
        if name and DeploymentPool.objects.filter(name=name, owner=cleaned.get("owner")).exists():
            self.add_error("name", "A pool of that name already exists for this owner.")
        return cleaned


class PoolMemberForm(forms.ModelForm):
    endpoint = forms.URLField(
        max_length=300, assume_scheme="https", help_text=PoolMember._meta.get_field("endpoint").help_text
    )
    # The dispatcher paces a member by its rpm: a member that may take no call is a disabled one, not rpm 0.
    rpm = forms.IntegerField(min_value=1, label="RPM", help_text=PoolMember._meta.get_field("rpm").help_text)
    tpm = forms.IntegerField(min_value=0, label="TPM", help_text="Tokens per minute of the quota (0: no token limit)")
    # Write-only: the stored key is never rendered back into the page, not even masked.
    api_key = forms.CharField(
        required=False,
        strip=True,
        label="API key",
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text="Leave empty to keep the stored key. It is encrypted at rest and never shown again.",
    )

    class Meta:
        model = PoolMember
        fields = MEMBER_FIELDS
        labels = {"api_style": "API style", "api_version": "API version", "data_zone": "Data zone"}

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        if cleaned.get("auth_kind") == AuthKind.API_KEY and not (cleaned.get("api_key") or self.instance.has_api_key):
            self.add_error("api_key", "An api-key deployment needs a key.")
        name = cleaned.get("name")
        if name:
            # The model's (pool, name) constraint names no field; here it is the name that is taken.
            taken = PoolMember.objects.filter(pool_id=self.instance.pool_id, name=name).exclude(pk=self.instance.pk)
            if taken.exists():
                self.add_error("name", "This pool already has a deployment of that name.")
        return cleaned


def _names(value: str, pattern: re.Pattern, what: str) -> list[str]:
    names = [part.strip().lower() for part in value.replace(" ", ",").split(",") if part.strip()]
    wrong = [name for name in names if not pattern.match(name)]
    if wrong:
        raise ValidationError(f"not {what}: {', '.join(wrong)}")
    return list(dict.fromkeys(names))


class TenantCapacityForm(forms.Form):
    tenant = forms.ModelChoiceField(queryset=Tenant.objects.order_by("name"), to_field_name="slug")
    pool = forms.ModelChoiceField(
        queryset=DeploymentPool.objects.select_related("owner").order_by("name"),
        required=False,
        empty_label="No pool (its own deployment, else the platform's)",
    )
    weight = forms.DecimalField(
        min_value=Decimal("0.01"),
        max_value=Decimal(1000),
        decimal_places=2,
        initial=Decimal(1),
        help_text=TenantCapacity._meta.get_field("weight").help_text,
    )
    max_share_percent = forms.IntegerField(
        min_value=1,
        max_value=100,
        required=False,
        label="Share cap (%)",
        help_text=TenantCapacity._meta.get_field("max_share_percent").help_text,
    )
    allowed_regions = forms.CharField(
        required=False, help_text="Comma-separated Azure regions, e.g. swedencentral, westeurope (empty: any)"
    )
    allowed_data_zones = forms.CharField(required=False, help_text="Comma-separated data zones, e.g. eu (empty: any)")
    retry_unknown_outcome = forms.ChoiceField(choices=RetryUnknownOutcome.choices, label="After an unknown outcome")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["tenant"].label_from_instance = _tenant_label
        self.fields["pool"].label_from_instance = lambda pool: (
            f"{pool.name} (own pool of {pool.owner.name})" if pool.owner_id else pool.name
        )

    def clean_allowed_regions(self) -> list[str]:
        return _names(self.cleaned_data["allowed_regions"], _REGION, "Azure region names")

    def clean_allowed_data_zones(self) -> list[str]:
        return _names(self.cleaned_data["allowed_data_zones"], _DATA_ZONE, "data zones")

    def values(self) -> dict[str, Any]:
        """What tenant_capacity_set takes."""
        return {name: self.cleaned_data[name] for name in self.fields if name != "tenant"}

    @classmethod
    def initial_for(cls, tenant: Tenant | None) -> dict[str, Any]:
        capacity = TenantCapacity.objects.for_tenant(tenant).first() if tenant is not None else None
        if capacity is None:
            return {"tenant": tenant.slug if tenant else None, "retry_unknown_outcome": RetryUnknownOutcome.ONCE}
        return {
            "tenant": tenant.slug,
            "pool": capacity.pool_id,
            "weight": capacity.weight,
            "max_share_percent": capacity.max_share_percent,
            "allowed_regions": ", ".join(capacity.allowed_regions),
            "allowed_data_zones": ", ".join(capacity.allowed_data_zones),
            "retry_unknown_outcome": capacity.retry_unknown_outcome,
        }
