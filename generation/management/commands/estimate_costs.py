"""Estimate a workload's monthly cost per routing option, like POST /api/v1/costs/estimate."""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand, CommandError

from generation.estimates.workloads import workload_estimate
from tenants.errors import ServiceError
from tenants.models import Tenant


class Command(BaseCommand):
    help = (
        "Monthly cost of a workload by token kind, routing options side by side. Example: estimate_costs "
        "--images 10000 --placement 1920x1080 --placement 1080x1920 --locales 6 --routing 3840x2160 --routing auto"
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--tenant", help="tenant slug: its placements by slug, and calibration from its ledger")
        parser.add_argument("--images", type=int, default=1000, help="base images per month")
        parser.add_argument("--placement", action="append", default=[], help="placement slug or WIDTHxHEIGHT")
        parser.add_argument("--quality", default="high", choices=["low", "medium", "high"])
        parser.add_argument("--locales", type=int, default=1)
        parser.add_argument("--edit-share", type=float, default=0.0)
        parser.add_argument("--cached-share", type=float, help="share of input tokens cached (default: observed)")
        parser.add_argument("--routing", action="append", default=[], help="auto, a tier, a bucket or WxH")
        parser.add_argument("--prompt-tokens", type=int)
        parser.add_argument("--no-calibration", action="store_true")
        parser.add_argument("--json", action="store_true", help="print the API's JSON")

    def handle(self, *args, **opts) -> None:
        tenant = None
        if opts["tenant"]:
            tenant = Tenant.objects.filter(slug=opts["tenant"]).first()
            if tenant is None:
                raise CommandError(f"no tenant {opts['tenant']!r}")
        body = {
            "images_per_month": opts["images"],
            "placements": opts["placement"],
            "quality": opts["quality"],
            "locales": opts["locales"],
            "edit_share": str(opts["edit_share"]),
            "routing": opts["routing"] or ["auto"],
            "calibrate": not opts["no_calibration"],
        }
        if opts["cached_share"] is not None:
            body["cached_input_share"] = str(opts["cached_share"])
        if opts["prompt_tokens"] is not None:
            body["prompt_tokens"] = opts["prompt_tokens"]
        try:
            result = workload_estimate(tenant=tenant, body=body)
        except ServiceError as exc:
            raise CommandError(f"{exc.field}: {exc.message}") from None
        if opts["json"]:
            self.stdout.write(json.dumps(result, indent=2, default=str))
            return
        self._print(result)

    def _print(self, result: dict) -> None:
        prices = result["prices"]["usd_per_million"]
        self.stdout.write(f"prices per 1M tokens: {', '.join(f'{k} ${v}' for k, v in prices.items())}")
        for option in result["options"]:
            marker = "  <- cheapest" if option["routing"] == result["cheapest"] else ""
            self.stdout.write(f"\nrouting {option['routing']}: ${option['total_usd']}/month{marker}")
            self.stdout.write(f"  sizes {', '.join(option['sizes'])}; {option['provider_images_per_month']} images")
            for kind, tokens in option["tokens"].items():
                self.stdout.write(f"  {kind:<20} {tokens:>16,} tokens  ${option['cost_usd'][kind]}")
            self.stdout.write(f"  per base image ${option['per_base_image_usd']}")
            for note in option["calibration"]:
                self.stdout.write(f"  calibrated: {note}")
            for warning in option["warnings"]:
                self.stdout.write(f"  warning: {warning}")
        self.stdout.write(f"\nbasis: {result['basis']}")
