"""Governance in the staff UI: `safety` (configuration versions), `policies` (policy editors), `costs`,
`budgets`, `audit` pages; imported here so the model admins register."""

from governance.admin import safety  # noqa: F401
