"""Generation jobs, their provider calls, and the provider responses (usage) they produced."""

from __future__ import annotations

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models

from generation.lifecycle import GenerationState, JobState
from tenants.scoping import TenantOwnedModel


class Job(TenantOwnedModel):
    class Kind(models.TextChoices):
        GENERATE = "generate", "Generate"
        EDIT = "edit", "Edit"

    class Priority(models.TextChoices):
        # The scheduler's lanes (generation.dispatch): every waiting interactive call goes before any bulk one.
        INTERACTIVE = "interactive", "Interactive (someone is waiting for it)"
        BULK = "bulk", "Bulk (campaigns, batches)"

    tenant = models.ForeignKey("tenants.Tenant", on_delete=models.CASCADE, related_name="jobs")
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.GENERATE)
    state = models.CharField(max_length=16, choices=JobState.choices, default=JobState.QUEUED, db_index=True)
    priority = models.CharField(max_length=16, choices=Priority.choices, default=Priority.BULK)
    # What was asked, normalised; its fingerprint makes Idempotency-Key retries safe.
    request = models.JSONField()
    request_fingerprint = models.CharField(max_length=64)
    idempotency_key = models.CharField(max_length=200, null=True, blank=True)
    prompt = models.TextField()
    quality = models.CharField(max_length=8)
    n = models.PositiveSmallIntegerField(default=1)
    output_format = models.CharField(max_length=8)
    output_compression = models.PositiveSmallIntegerField(null=True, blank=True)
    background = models.CharField(max_length=16, blank=True)
    size_plan = models.JSONField()
    placements = models.JSONField(default=list, blank=True, help_text="snapshot of the placements asked for")
    locales = models.JSONField(default=dict, blank=True, help_text="locale -> in-image copy")
    brand_policy = models.ForeignKey(
        "tenants.BrandPolicy", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    # The safety configuration version the job was checked and generated under, and every verdict it got
    # (prompt checks at submission, provider refusals, output checks; governance.safety.verdicts).
    safety_config = models.ForeignKey(
        "governance.SafetyConfig", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    safety_verdicts = models.JSONField(default=list, blank=True)
    source_version = models.ForeignKey(
        "dam.AssetVersion", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    mask_key = models.CharField(max_length=300, blank=True)
    collection = models.ForeignKey("dam.Collection", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    # A campaign's job: which campaign, version and creative it generates (its outputs land in the campaign's cells).
    campaign = models.ForeignKey(
        "generation.Campaign", null=True, blank=True, on_delete=models.SET_NULL, related_name="jobs"
    )
    campaign_version = models.PositiveIntegerField(null=True, blank=True)
    campaign_creative = models.CharField(max_length=64, blank=True)
    tags = ArrayField(models.CharField(max_length=64), default=list, blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    requested_by_key = models.ForeignKey(
        "tenants.ApiKey", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    deployment = models.CharField(max_length=200, blank=True)
    estimated_output_tokens = models.PositiveIntegerField(default=0)
    attempts = models.PositiveSmallIntegerField(default=0)
    cancel_requested = models.BooleanField(default=False)
    lease_owner = models.CharField(max_length=200, blank=True)
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    error_code = models.CharField(max_length=64, blank=True)
    error_message = models.TextField(blank=True)
    error_detail = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta(TenantOwnedModel.Meta):
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "idempotency_key"],
                condition=models.Q(idempotency_key__isnull=False),
                name="job_unique_idempotency_key",
            )
        ]
        indexes = [models.Index(fields=["tenant", "state", "-id"], name="job_tenant_state_recent")]

    def __str__(self) -> str:
        return f"job {self.pk} ({self.state})"


class JobGeneration(TenantOwnedModel):
    """One provider call of a job: one locale x one aspect group, `n` images."""

    tenant = models.ForeignKey("tenants.Tenant", on_delete=models.CASCADE, related_name="+")
    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="generations")
    locale = models.CharField(max_length=16, blank=True)
    locale_copy = models.TextField(blank=True)
    group_index = models.PositiveSmallIntegerField()
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    compiled_prompt = models.TextField()
    brand_prefix_sha256 = models.CharField(max_length=64, blank=True)
    state = models.CharField(max_length=16, choices=GenerationState.choices, default=GenerationState.PENDING)
    provider_calls = models.PositiveSmallIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta(TenantOwnedModel.Meta):
        ordering = ["job_id", "id"]
        constraints = [
            models.UniqueConstraint(fields=["job", "locale", "group_index"], name="job_generation_unique_unit")
        ]

    def __str__(self) -> str:
        return f"job {self.job_id} {self.locale or '-'} group {self.group_index}"


class ProviderResponse(TenantOwnedModel):
    """A successful provider answer, recorded the moment it arrives.

    Unique on the provider request id: a task that runs twice can neither lose the usage
    of a response it received nor count it twice. The ledger charges from these rows.
    """

    tenant = models.ForeignKey("tenants.Tenant", on_delete=models.CASCADE, related_name="+")
    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="responses")
    generation = models.ForeignKey(JobGeneration, on_delete=models.CASCADE, related_name="responses")
    provider_request_id = models.CharField(max_length=128, unique=True)
    deployment = models.CharField(max_length=200)
    text_input_tokens = models.PositiveIntegerField(default=0)
    image_input_tokens = models.PositiveIntegerField(default=0)
    cached_text_input_tokens = models.PositiveIntegerField(default=0)
    cached_image_input_tokens = models.PositiveIntegerField(default=0)
    output_tokens = models.PositiveIntegerField(default=0)
    total_tokens = models.PositiveIntegerField(default=0)
    usage_reported = models.BooleanField(default=True)
    latency_ms = models.PositiveIntegerField(default=0)
    # Blob references of the outputs, filled once the bytes are stored.
    outputs = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta(TenantOwnedModel.Meta):
        ordering = ["id"]

    def __str__(self) -> str:
        return self.provider_request_id

    def usage_dict(self) -> dict[str, int]:
        return {
            "text_input_tokens": self.text_input_tokens,
            "image_input_tokens": self.image_input_tokens,
            "cached_text_input_tokens": self.cached_text_input_tokens,
            "cached_image_input_tokens": self.cached_image_input_tokens,
            "output_tokens": self.output_tokens,
            "total_tokens": self.total_tokens,
        }
