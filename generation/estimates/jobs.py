"""What a planned job will cost, before it is submitted: the job's own size plan priced with the
price book in force now, calibrated by the tenant's observed usage where the ledger has enough.

The generate page shows it next to the plan; `generation.estimates.workloads` answers the same question
for a month's workload. Pure read: nothing is stored or held.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django.utils import timezone

from generation.requests import JobSpec
from generation.sizing import image_input_tokens
from governance.estimates import PlannedImage, Workload, estimate_routing, observed_usage
from governance.models import TokenKind
from governance.prices import PriceMissing, price_sheet_at
from tenants.models import Tenant


@dataclass(frozen=True)
class JobEstimate:
    total_usd: Decimal
    output_tokens: int
    calibrated: bool  # observed tokens per image replaced the formula for some size
    notes: tuple[str, ...]


def job_cost_estimate(*, tenant: Tenant, spec: JobSpec, is_edit: bool) -> JobEstimate | None:
    """None when the price book has no price in force (nothing to multiply the tokens by)."""
    try:
        prices = price_sheet_at(timezone.now())
    except PriceMissing:
        return None
    planned = [
        PlannedImage(
            size=str(group.size),
            quality=spec.quality,
            output_tokens=group.estimated_output_tokens,
            # An edit sends its source at the generation size (as generation.estimates.workloads counts it).
            edit_input_tokens=image_input_tokens(group.size.width, group.size.height),
        )
        for group in spec.plan.groups
    ]
    workload = Workload(
        images_per_month=spec.n, locales=max(1, len(spec.locales)), edit_share=Decimal(1 if is_edit else 0)
    )
    estimate = estimate_routing(
        routing=str(spec.routing),
        planned=planned,
        workload=workload,
        prices=prices,
        observed=observed_usage(tenant=tenant),
    )
    return JobEstimate(
        total_usd=estimate.total_usd,
        output_tokens=estimate.tokens.get(TokenKind.IMAGE_OUTPUT, spec.estimated_output_tokens),
        calibrated=estimate.calibrated,
        notes=tuple(estimate.calibration),
    )
