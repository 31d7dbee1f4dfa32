"""Walk audit chains (or an export file) and name the first broken link. Exit status 1 on a break.

A successful walk of the database pins a checkpoint (unless --no-checkpoint); --since-checkpoint starts from the
latest one, so a daily run reads only the day's events (a full run, without it, re-reads everything).
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from governance.services.audit import audit_verify, audit_verify_export
from governance.services.audit_checkpoints import audit_checkpoint_pin
from tenants.models import Tenant


class Command(BaseCommand):
    help = "Verify the hash chain of every tenant's audit trail (or one tenant's, or an audit_export file)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--tenant", help="tenant slug (default: every tenant)")
        parser.add_argument("--file", help="verify an audit_export JSON Lines file instead of the database")
        parser.add_argument("--pin", help="SEQ:HASH of a head from an earlier export the chain must pass through")
        parser.add_argument(
            "--since-checkpoint",
            action="store_true",
            help="start after each tenant's latest checkpoint (events before it are not re-read)",
        )
        parser.add_argument("--no-checkpoint", action="store_true", help="do not pin a checkpoint after a good walk")

    def handle(
        self,
        *args,
        tenant: str | None = None,
        file: str | None = None,
        pin: str | None = None,
        since_checkpoint: bool = False,
        no_checkpoint: bool = False,
        **options,
    ):
        if file:
            self._verify_file(file, pin)
            return
        tenants = Tenant.objects.order_by("slug")
        if tenant:
            tenants = tenants.filter(slug=tenant)
            if not tenants.exists():
                raise CommandError(f"no tenant {tenant!r}")
        broken = 0
        for item in tenants:
            report = audit_verify(tenant=item, since_checkpoint=since_checkpoint)
            if report.ok:
                walked = f"{report.events} events"
                if report.checkpoint is not None:
                    when = f"{report.checkpoint.verified_at:%Y-%m-%d %H:%M}"
                    walked += f" after the checkpoint at #{report.checkpoint.seq} of {when}"
                pinned = ""
                if not no_checkpoint and report.head_event_id is not None:
                    audit_checkpoint_pin(report=report)
                    pinned = f"; checkpoint pinned at #{report.head_seq}"
                self.stdout.write(f"{item.slug}: ok, {walked}, head #{report.head_seq} {report.head_hash}{pinned}")
            else:
                broken += 1
                self.stdout.write(f"{item.slug}: BROKEN at {report.first_break}")
        if broken:
            raise CommandError(f"{broken} tenant chain(s) broken", returncode=1)

    def _verify_file(self, path: str, pin: str | None) -> None:
        pinned = None
        if pin:
            seq, _, digest = pin.partition(":")
            if not seq.isdigit() or len(digest) != 64:
                raise CommandError("--pin must be SEQ:HASH (64 hex digits)")
            pinned = (int(seq), digest)
        with open(path, encoding="utf-8") as lines:
            report = audit_verify_export(lines, pinned_head=pinned)
        if not report.ok:
            raise CommandError(f"{path}: BROKEN at {report.first_break}", returncode=1)
        self.stdout.write(f"{path}: ok, {report.events} events, head #{report.head_seq} {report.head_hash}")
