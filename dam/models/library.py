"""The asset library: collections, assets, their immutable versions and renditions."""

from __future__ import annotations

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.indexes import GinIndex
from django.contrib.postgres.search import SearchVectorField
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F

from dam.formats import FORMATS
from dam.lifecycle import VersionStatus
from dam.models.checks import ChecksState
from tenants.scoping import TenantOwnedModel

# The column's choices are the format table's rows (dam.formats), so the two cannot disagree.
ImageFormat = models.TextChoices("ImageFormat", [(f.name.upper(), (f.name, f.label)) for f in FORMATS.values()])


class StoredImage(models.Model):
    """The facts of one image file in blob storage, as versions and renditions both record them."""

    storage_key = models.CharField(max_length=300)
    sha256 = models.CharField(max_length=64)
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    format = models.CharField(max_length=8, choices=ImageFormat.choices)
    file_size = models.PositiveBigIntegerField()

    class Meta:
        abstract = True


class Collection(TenantOwnedModel):
    """A campaign or folder; assets belong to at most one."""

    tenant = models.ForeignKey("tenants.Tenant", on_delete=models.CASCADE, related_name="collections")
    slug = models.SlugField(max_length=63)
    name = models.CharField(max_length=200)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta(TenantOwnedModel.Meta):
        ordering = ["slug"]
        constraints = [models.UniqueConstraint(fields=["tenant", "slug"], name="collection_unique_slug")]

    def __str__(self) -> str:
        return self.name


class Asset(TenantOwnedModel):
    class Source(models.TextChoices):
        GENERATED = "generated", "Generated"
        UPLOADED = "uploaded", "Uploaded"

    tenant = models.ForeignKey("tenants.Tenant", on_delete=models.CASCADE, related_name="assets")
    title = models.CharField(max_length=300)
    collection = models.ForeignKey(Collection, null=True, blank=True, on_delete=models.SET_NULL, related_name="assets")
    tags = ArrayField(models.CharField(max_length=64), default=list, blank=True)
    # All outputs of one generation request share a family (the job's id as text).
    family = models.CharField(max_length=64, blank=True, db_index=True)
    source = models.CharField(max_length=16, choices=Source.choices)
    locale = models.CharField(max_length=16, blank=True)
    # A campaign's output (generation.Campaign, by id: the library sits below generation): which campaign and
    # creative it is, and the placements it is cut for. The market is `locale`.
    campaign_id = models.BigIntegerField(null=True, blank=True)
    creative = models.CharField(max_length=64, blank=True)
    placements = ArrayField(models.SlugField(max_length=63), default=list, blank=True)
    current_version = models.ForeignKey(
        "AssetVersion", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Full-text search over title, tags, locale, and the current version's prompt and alt texts;
    # written by `dam.selectors.search.asset_search_refresh` whenever one of those changes.
    search_vector = SearchVectorField(null=True, blank=True, editable=False)
    # Set when archived (dam.services.metadata.asset_archive): out of the browser's and the API's lists by
    # default and out of every storefront list; still reachable by id, and its published byte URLs keep working.
    archived_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta(TenantOwnedModel.Meta):
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["tenant", "-id"], name="asset_tenant_recent"),
            GinIndex(fields=["search_vector"], name="asset_search_vector"),
            GinIndex(fields=["tags"], name="asset_tags"),
            GinIndex(fields=["placements"], name="asset_placements"),
            models.Index(
                fields=["tenant", "campaign_id", "creative", "locale"],
                condition=models.Q(campaign_id__isnull=False),
                name="asset_campaign_cell",
            ),
            # A collection's assets newest first without reading the collection's whole bitmap (bench/data_scale).
            models.Index(fields=["tenant", "collection", "-id"], name="asset_collection_recent"),
            # A created-between filter scans its range instead of every newer asset.
            models.Index(fields=["tenant", "created_at"], name="asset_tenant_created"),
            # The staff pages' market choices: one probe per market (dam.selectors.facets).
            models.Index(fields=["tenant", "locale"], name="asset_tenant_locale"),
            # The asset browser's capped count of the tenant's active assets, in the index alone (37 -> 2 ms at 1M).
            models.Index(
                fields=["tenant", "-id"], condition=models.Q(archived_at__isnull=True), name="asset_tenant_active"
            ),
        ]

    def __str__(self) -> str:
        return self.title


class AssetVersion(TenantOwnedModel, StoredImage):
    """Immutable once written: an edit is a new version whose parent is the one edited."""

    tenant = models.ForeignKey("tenants.Tenant", on_delete=models.CASCADE, related_name="+")
    asset = models.ForeignKey(Asset, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="children")
    status = models.CharField(max_length=16, choices=VersionStatus.choices, default=VersionStatus.NEEDS_REVIEW)
    # Provenance of a generated version. The job is referenced by id, not by foreign key:
    # generation depends on the library, never the other way round.
    job_id = models.BigIntegerField(null=True, blank=True, db_index=True)
    provider_request_id = models.CharField(max_length=128, blank=True)
    output_index = models.PositiveSmallIntegerField(default=0)
    compiled_prompt = models.TextField(blank=True)
    model = models.CharField(max_length=100, blank=True)
    deployment = models.CharField(max_length=200, blank=True)
    size_plan = models.JSONField(default=dict, blank=True)
    locale = models.CharField(max_length=16, blank=True)
    usage = models.JSONField(default=dict, blank=True)
    # Where crops centre, as fractions of the width and height (0..1); null: the centre.
    focal_x = models.FloatField(null=True, blank=True, validators=[MinValueValidator(0.0), MaxValueValidator(1.0)])
    focal_y = models.FloatField(null=True, blank=True, validators=[MinValueValidator(0.0), MaxValueValidator(1.0)])
    # {"en-US": "...", "ja-JP": "..."}: alternative text per locale (dam.services.metadata.version_metadata_update).
    alt_text = models.JSONField(default=dict, blank=True)
    # IPTC Digital Source Type term (e.g. trainedAlgorithmicMedia, digitalCapture); blank: derived
    # from how the version was made (dam.provenance.source_type_for).
    digital_source_type = models.CharField(max_length=64, blank=True)
    # SHA-256 of the bytes a client uploaded (the stored file is a sanitised re-encoding with its
    # own `sha256`): the same upload twice in one tenant is the same version.
    source_sha256 = models.CharField(max_length=64, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # The API key that asked for it (a job's requester, an upload's key): with created_by, who may not approve it
    # (four-eyes, dam.services.review).
    created_by_key = models.ForeignKey(
        "tenants.ApiKey", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # The person who asked for it: created_by, or the person behind created_by_key (who minted it, following
    # keys minted with keys up to the person who minted the first). Kept at creation, so a later change of
    # the key rows cannot make a requester into a stranger.
    created_by_person = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Moderation: the verdicts that decided the starting status (governance.safety.verdicts), and the
    # configuration versions it was generated under.
    safety_verdicts = models.JSONField(default=list, blank=True)
    safety_config_version = models.PositiveIntegerField(null=True, blank=True)
    brand_policy_version = models.PositiveIntegerField(null=True, blank=True)
    # The in-image copy the version was asked to carry (its locale's), read back by the copy check.
    expected_copy = models.TextField(blank=True)
    # Deterministic checks (dam.models.checks): their state, the brand score, and whether the version becomes
    # approved when they pass (a version that would have started approved waits in review while it is checked).
    checks_state = models.CharField(max_length=8, choices=ChecksState.choices, default=ChecksState.NONE, blank=True)
    approve_when_checked = models.BooleanField(default=False)
    # When pending checks were asked for again (`version_checks_rerun`); the first run's moment is `created_at`.
    # The sweep judges a pending version stale from the later of the two, not re-queueing a run again at once.
    checks_requested_at = models.DateTimeField(null=True, blank=True)
    brand_checks_passed = models.PositiveSmallIntegerField(null=True, blank=True)
    brand_checks_run = models.PositiveSmallIntegerField(null=True, blank=True)
    # What lists show of the checks without reading their rows: the copy verdict, each check's outcome.
    checks_summary = models.JSONField(default=dict, blank=True)
    # The asset's campaign (a copy: an asset's campaign never changes), so the review board orders its backlog by
    # campaign on an index of the versions instead of sorting every version in review across a join.
    campaign_id = models.BigIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta(TenantOwnedModel.Meta):
        ordering = ["asset_id", "number"]
        constraints = [
            models.UniqueConstraint(fields=["asset", "number"], name="asset_version_unique_number"),
            # One provider output becomes exactly one version, however often the task runs.
            models.UniqueConstraint(
                fields=["job_id", "provider_request_id", "output_index"],
                condition=models.Q(job_id__isnull=False),
                name="asset_version_unique_provider_output",
            ),
            models.UniqueConstraint(
                fields=["tenant", "source_sha256"],
                condition=~models.Q(source_sha256=""),
                name="asset_version_unique_upload",
            ),
            models.CheckConstraint(
                condition=(models.Q(focal_x__isnull=True) & models.Q(focal_y__isnull=True))
                | (models.Q(focal_x__gte=0, focal_x__lte=1) & models.Q(focal_y__gte=0, focal_y__lte=1)),
                name="asset_version_focal_point_in_image",
            ),
        ]
        indexes = [
            # The review board's backlog (a status) and its count, per tenant (bench/data_scale, docs/sizing.md).
            models.Index(fields=["tenant", "status", "-id"], name="version_tenant_status"),
            # The board grouped by campaign: newest campaign first, then oldest version first.
            models.Index(
                F("tenant"), F("status"), F("campaign_id").desc(nulls_last=True), F("id"), name="version_board_campaign"
            ),
            # The board grouped by job, and its job choices (one probe per job, dam.selectors.facets).
            models.Index(
                F("tenant"), F("status"), F("job_id").desc(nulls_last=True), F("id"), name="version_board_job"
            ),
            # The review board's market choices: one probe per market (dam.selectors.facets).
            models.Index(fields=["tenant", "locale"], name="version_tenant_locale"),
            # The checks sweep finds the few pending versions without walking every version, in the index alone.
            models.Index(
                fields=["id"],
                include=["created_at", "checks_requested_at"],
                condition=models.Q(checks_state="pending"),
                name="version_checks_pending_since",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.asset_id} v{self.number}"

    @property
    def requester(self) -> dict[str, int | None]:
        """Who asked for this version, as its audit events record it (ids: user, API key, person behind)."""
        return {"user": self.created_by_id, "api_key": self.created_by_key_id, "person": self.created_by_person_id}


class Rendition(TenantOwnedModel, StoredImage):
    """A derived file of a version: a placement's exact size, or a filter spec."""

    tenant = models.ForeignKey("tenants.Tenant", on_delete=models.CASCADE, related_name="+")
    version = models.ForeignKey(AssetVersion, on_delete=models.CASCADE, related_name="renditions")
    spec = models.CharField(max_length=200, help_text="'placement:<slug>' or a filter spec")
    placement_slug = models.SlugField(max_length=63, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta(TenantOwnedModel.Meta):
        ordering = ["version_id", "spec"]
        constraints = [models.UniqueConstraint(fields=["version", "spec"], name="rendition_unique_spec")]

    def __str__(self) -> str:
        return f"{self.version_id} {self.spec}"
