"""Generation in the staff UI: `jobs` (deployments and jobs), `views` (generate and job pages), `forms`,
`estimator` (the cost page's estimator panel); imported here so the model admins register."""

from generation.admin import jobs  # noqa: F401
