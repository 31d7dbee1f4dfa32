"""The one way to reach tenant-owned rows.

`Model.objects` refuses to build a queryset unless it is scoped: `Model.objects.for_tenant(t)`.
Related managers (`asset.versions.all()`) are allowed because the parent row they hang
from is already tenant-owned. Code that really must cross tenants (migrations, the
superuser admin, housekeeping) says so by using `Model.unscoped`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.db import models

if TYPE_CHECKING:
    from tenants.models import Tenant


class UnscopedQueryError(RuntimeError):
    pass


class TenantScopedManager(models.Manager):
    def get_queryset(self) -> models.QuerySet:
        # Related managers carry the parent instance: the parent already pins the tenant.
        if getattr(self, "instance", None) is None:
            raise UnscopedQueryError(
                f"{self.model.__name__}.objects needs a tenant: use "
                f"{self.model.__name__}.objects.for_tenant(tenant) (or .unscoped where crossing tenants is intended)"
            )
        return super().get_queryset()

    def for_tenant(self, tenant: Tenant | int) -> models.QuerySet:
        tenant_id = tenant if isinstance(tenant, int) else tenant.pk
        if tenant_id is None:
            raise UnscopedQueryError("for_tenant() needs a saved tenant")
        return super().get_queryset().filter(tenant_id=tenant_id)


class TenantOwnedModel(models.Model):
    """Base for every row that belongs to a tenant: a non-null tenant FK and scoped managers."""

    tenant = models.ForeignKey("tenants.Tenant", on_delete=models.PROTECT, related_name="+")

    objects = TenantScopedManager()
    unscoped = models.Manager()  # noqa: DJ012 (subclasses redeclare tenant with their related_name)

    class Meta:
        abstract = True
        # Django internals (deletion, admin fallbacks, serializers' unique checks) use the
        # base/default manager; they must keep working, so those point at the plain one.
        base_manager_name = "unscoped"
        default_manager_name = "unscoped"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.tenant_id is None:
            raise UnscopedQueryError(f"{type(self).__name__} cannot be saved without a tenant")
        super().save(*args, **kwargs)
