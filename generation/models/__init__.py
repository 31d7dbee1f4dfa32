"""Generation's models, re-exported: deployments and pools, jobs with their calls and attempts, campaigns."""

from generation.models.campaigns import Campaign, CampaignCell, CampaignVersion, CellStatus
from generation.models.deployments import Deployment
from generation.models.jobs import Job, JobGeneration, ProviderResponse
from generation.models.pools import (
    AttemptState,
    DeploymentPool,
    PoolMember,
    ProviderAttempt,
    RetryUnknownOutcome,
    TenantCapacity,
)

__all__ = [
    "AttemptState",
    "Campaign",
    "CampaignCell",
    "CampaignVersion",
    "CellStatus",
    "Deployment",
    "DeploymentPool",
    "Job",
    "JobGeneration",
    "PoolMember",
    "ProviderAttempt",
    "ProviderResponse",
    "RetryUnknownOutcome",
    "TenantCapacity",
]
