"""Tenants in the staff UI: `base` (the tenant-aware admin every app's admin stands on), `tenancy`
(tenants, members, API keys, placements, brand policy versions); imported here so they register."""

from tenants.admin import tenancy  # noqa: F401
