from tenants.models.brand import BrandPolicy, OutputFormat, Placement
from tenants.models.tenancy import ROLE_SCOPES, ApiKey, Membership, Role, Scope, Tenant, hash_api_key_secret

__all__ = [
    "ROLE_SCOPES",
    "ApiKey",
    "BrandPolicy",
    "Membership",
    "OutputFormat",
    "Placement",
    "Role",
    "Scope",
    "Tenant",
    "hash_api_key_secret",
]
