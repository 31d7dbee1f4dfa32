"""Generation's models, re-exported: tenants' Foundry deployments, and jobs with their provider calls."""

from generation.models.deployments import Deployment
from generation.models.jobs import Job, JobGeneration, ProviderResponse

__all__ = ["Deployment", "Job", "JobGeneration", "ProviderResponse"]
