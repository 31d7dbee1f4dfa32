from tenants.services.brand import brand_policy_update, placement_archive, placement_create, placement_update
from tenants.services.tenancy import (
    IssuedApiKey,
    api_key_create,
    api_key_revoke,
    membership_set,
    tenant_create,
    tenant_set_status,
    user_get_or_create,
)

__all__ = [
    "IssuedApiKey",
    "api_key_create",
    "api_key_revoke",
    "brand_policy_update",
    "membership_set",
    "placement_archive",
    "placement_create",
    "placement_update",
    "tenant_create",
    "tenant_set_status",
    "user_get_or_create",
]
