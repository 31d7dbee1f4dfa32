"""Verify the Content Credentials of stored files: every version's original and every rendition of a tenant
(or of all tenants), or a random sample of them.

    manage.py verify_credentials --tenant acme                 # everything of one tenant
    manage.py verify_credentials --sample 200                  # 200 files drawn across every tenant
    manage.py verify_credentials --tenant acme --require-trusted

Each file is read from blob storage, checked (dam.credentials.verify.read_credentials against C2PA_TRUST_ANCHORS
or --trust-anchors) and dropped before the next is read, and rows are streamed from a server-side cursor: memory
stays flat however many files there are. Progress goes to stderr every --progress-every files; every file without a
valid manifest is listed on stdout with why, then a summary. The exit status is 1 when any file failed (absent,
unreadable, invalid; with --require-trusted also valid-but-untrusted), so a cron job or CI step can alarm on it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db.models import QuerySet

from dam.credentials.verify import ABSENT, INVALID, STATES, UNREADABLE, VALID, stored_credentials
from dam.models import AssetVersion, Rendition
from tenants.models import Tenant

CHUNK = 500


@dataclass(frozen=True)
class StoredRow:
    """The fields of a version or rendition row that reading its file needs (no model instance kept)."""

    tenant_slug: str
    asset_id: int
    version: int
    spec: str  # "original" or the rendition's spec
    storage_key: str
    format: str

    @property
    def where(self) -> str:
        return f"{self.tenant_slug} asset {self.asset_id} v{self.version} {self.spec}"


class Command(BaseCommand):
    help = "Verify the C2PA Content Credentials of stored originals and renditions; exit 1 if any fails."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--tenant", help="a tenant slug (default: every tenant)")
        parser.add_argument("--sample", type=int, help="verify N files drawn at random instead of all of them")
        parser.add_argument(
            "--trust-anchors", help="a PEM file of CA certificates to trust (default: settings.C2PA_TRUST_ANCHORS)"
        )
        parser.add_argument(
            "--require-trusted", action="store_true", help="count a valid manifest from an untrusted signer as failed"
        )
        parser.add_argument("--progress-every", type=int, default=100, help="a progress line every N files")

    def handle(
        self,
        *args,
        tenant: str | None = None,
        sample: int | None = None,
        trust_anchors: str | None = None,
        require_trusted: bool = False,
        progress_every: int = 100,
        **options,
    ) -> None:
        if sample is not None and sample < 1:
            raise CommandError("--sample must be at least 1")
        if progress_every < 1:
            raise CommandError("--progress-every must be at least 1")
        anchors = None
        if trust_anchors:
            try:
                anchors = Path(trust_anchors).read_bytes()
            except OSError as error:
                raise CommandError(f"--trust-anchors: {error}") from None
        tenants = Tenant.objects.order_by("pk")
        if tenant:
            tenants = tenants.filter(slug=tenant)
            if not tenants.exists():
                raise CommandError(f"no tenant {tenant!r}")
        versions, renditions = _querysets(list(tenants))
        total = versions.count() + renditions.count()
        if sample is not None:
            total = min(total, sample)
        failing = {ABSENT, UNREADABLE, INVALID} | ({VALID} if require_trusted else set())
        states: Counter[str] = Counter()
        checked = 0
        for row in _rows(versions, renditions, sample=sample):
            report = stored_credentials(row, trust_anchors_pem=anchors)
            states[report.state] += 1
            checked += 1
            if report.state in failing:
                codes = ", ".join(sorted({f["code"] for f in report.failures})) or report.error or "no manifest"
                self.stdout.write(f"FAIL {row.where}: {report.state} ({codes})")
            if checked % progress_every == 0 or checked == total:
                failed = sum(states[s] for s in failing)
                self.stderr.write(f"… {checked}/{total} files checked, {failed} failed")
        failed = sum(states[s] for s in failing)
        counts = ", ".join(f"{states[s]} {s}" for s in reversed(STATES) if states[s])
        scope = f"tenant {tenant}" if tenant else "every tenant"
        what = f"a sample of {checked} files" if sample is not None else f"{checked} files"
        self.stdout.write(f"{what} of {scope}: {counts or 'none stored'}; {failed} without a valid manifest")
        if failed:
            raise CommandError(f"{failed} of {checked} stored files failed verification")


def _querysets(tenants: list[Tenant]) -> tuple[QuerySet, QuerySet]:
    ids = [t.pk for t in tenants]
    versions = AssetVersion.unscoped.filter(tenant_id__in=ids)
    renditions = Rendition.unscoped.filter(tenant_id__in=ids)
    return versions, renditions


_VERSION_FIELDS = ("tenant__slug", "asset_id", "number", "storage_key", "format")
_RENDITION_FIELDS = ("tenant__slug", "version__asset_id", "version__number", "spec", "storage_key", "format")


def _rows(versions: QuerySet, renditions: QuerySet, *, sample: int | None) -> Iterator[StoredRow]:
    if sample is not None:
        # Each kind in proportion to its share of the files, drawn by the database (ORDER BY random()): only the
        # sample's rows ever reach us.
        count_v, count_r = versions.count(), renditions.count()
        take_v = round(sample * count_v / (count_v + count_r)) if count_v + count_r else 0
        versions = versions.order_by("?")[:take_v]
        renditions = renditions.order_by("?")[: max(0, sample - take_v)]
    else:
        versions = versions.order_by("pk")
        renditions = renditions.order_by("pk")
    for slug, asset_id, number, key, image_format in versions.values_list(*_VERSION_FIELDS).iterator(CHUNK):
        yield StoredRow(slug, asset_id, number, "original", key, image_format)
    for slug, asset_id, number, spec, key, image_format in renditions.values_list(*_RENDITION_FIELDS).iterator(CHUNK):
        yield StoredRow(slug, asset_id, number, spec, key, image_format)
