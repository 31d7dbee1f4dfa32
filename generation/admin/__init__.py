"""Generation in the staff UI: `jobs` (deployments and jobs), `views` (generate and job pages), `forms`,
`estimator` (the cost page's estimator panel), `campaigns` and `campaign_grid` (the campaign pages), `capacity`,
`capacity_forms` and `capacity_live` (the deployment pools page); imported here so the model admins register."""

from generation.admin import campaigns, capacity, jobs  # noqa: F401
