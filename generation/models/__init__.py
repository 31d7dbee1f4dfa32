"""Generation's models, re-exported: tenants' Foundry deployments, jobs with their provider calls, campaigns."""

from generation.models.campaigns import Campaign, CampaignCell, CampaignVersion, CellStatus
from generation.models.deployments import Deployment
from generation.models.jobs import Job, JobGeneration, ProviderResponse

__all__ = [
    "Campaign",
    "CampaignCell",
    "CampaignVersion",
    "CellStatus",
    "Deployment",
    "Job",
    "JobGeneration",
    "ProviderResponse",
]
