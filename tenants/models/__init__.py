from tenants.models.brand import BrandLogo, BrandPolicy, CopyMismatchAction, OutputFormat, Placement
from tenants.models.tenancy import ROLE_SCOPES, ApiKey, Membership, Role, Scope, Tenant, hash_api_key_secret

__all__ = [
    "ROLE_SCOPES",
    "ApiKey",
    "BrandLogo",
    "BrandPolicy",
    "CopyMismatchAction",
    "Membership",
    "OutputFormat",
    "Placement",
    "Role",
    "Scope",
    "Tenant",
    "hash_api_key_secret",
]
