"""The price book: which price applies when, and what a usage costs.

`charge_breakdown` is pure (usage + prices -> exact Decimal amounts); `ledger_charge_cost`
reads the prices in force at a moment and calls it. Cached tokens are part of the input counts
(`generation.foundry.results.Usage` semantics) and are billed at the cached rate; the rest of the
input at the full rate.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, Inexact, localcontext

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from governance.models import DEFAULT_MODEL, DEFAULT_TIER, Price, TokenKind
from governance.models.ledger import AMOUNT_PLACES, PRICE_PLACES

MILLION = Decimal(1_000_000)
AMOUNT_QUANTUM = Decimal(1).scaleb(-AMOUNT_PLACES)
USAGE_FIELDS = (
    "text_input_tokens",
    "cached_text_input_tokens",
    "image_input_tokens",
    "cached_image_input_tokens",
    "output_tokens",
)


# Microsoft Foundry, gpt-image-2, Standard Global, USD per 1M tokens (announcement of 2026-04-21).
SEED_PRICES = {
    TokenKind.TEXT_INPUT: Decimal("5.00"),
    TokenKind.CACHED_TEXT_INPUT: Decimal("1.25"),
    TokenKind.IMAGE_INPUT: Decimal("8.00"),
    TokenKind.CACHED_IMAGE_INPUT: Decimal("2.00"),
    TokenKind.IMAGE_OUTPUT: Decimal("30.00"),
}
SEED_FROM = dt.datetime(2026, 4, 21, tzinfo=dt.UTC)


class PriceMissing(LookupError):
    pass


def price_book_seed(price_model: type[Price] = Price) -> int:
    """The launch prices, if missing (migration 0002 writes them; this restores them after a database flush,
    as Django restores content types). Never touches a later price. Returns how many rows it wrote."""
    created = 0
    for kind, usd in SEED_PRICES.items():
        _, made = price_model.objects.get_or_create(
            model=DEFAULT_MODEL,
            deployment_tier=DEFAULT_TIER,
            token_kind=kind,
            effective_from=SEED_FROM,
            defaults={"usd_per_million": usd},
        )
        created += made
    return created


@dataclass(frozen=True)
class UnitPrice:
    price_id: int | None
    usd_per_million: Decimal


@dataclass(frozen=True)
class PriceSheet:
    """The five unit prices in force for one model and tier at one moment."""

    model: str
    deployment_tier: str
    prices: Mapping[str, UnitPrice]

    def __getitem__(self, kind: str) -> UnitPrice:
        return self.prices[kind]


@dataclass(frozen=True)
class CostLine:
    kind: str
    tokens: int
    unit: UnitPrice
    amount_usd: Decimal

    def to_dict(self) -> dict:
        return {
            "tokens": self.tokens,
            "price_id": self.unit.price_id,
            "usd_per_million": str(self.unit.usd_per_million),
            "amount_usd": str(self.amount_usd),
        }


@dataclass(frozen=True)
class CostBreakdown:
    model: str
    deployment_tier: str
    lines: tuple[CostLine, ...]

    @property
    def total_usd(self) -> Decimal:
        return sum((line.amount_usd for line in self.lines), Decimal(0)).quantize(AMOUNT_QUANTUM)

    def by_kind(self) -> dict[str, CostLine]:
        return {line.kind: line for line in self.lines}

    def to_dict(self) -> dict[str, dict]:
        return {line.kind: line.to_dict() for line in self.lines}


def billable_tokens(usage: Mapping[str, int]) -> dict[str, int]:
    """Usage (cached included in the input counts) -> tokens per billed kind."""
    values = {name: int(usage.get(name) or 0) for name in USAGE_FIELDS}
    if any(value < 0 for value in values.values()):
        raise ValueError(f"token counts must not be negative: {values}")
    cached_text = min(values["cached_text_input_tokens"], values["text_input_tokens"])
    cached_image = min(values["cached_image_input_tokens"], values["image_input_tokens"])
    return {
        TokenKind.TEXT_INPUT: values["text_input_tokens"] - cached_text,
        TokenKind.CACHED_TEXT_INPUT: cached_text,
        TokenKind.IMAGE_INPUT: values["image_input_tokens"] - cached_image,
        TokenKind.CACHED_IMAGE_INPUT: cached_image,
        TokenKind.IMAGE_OUTPUT: values["output_tokens"],
    }


def line_amount(tokens: int | Decimal, usd_per_million: Decimal) -> Decimal:
    """tokens x price / 1M, exactly: raises if the amount does not fit the ledger's 10 places."""
    with localcontext() as context:
        context.prec = 60
        context.traps[Inexact] = True
        return (Decimal(tokens) * usd_per_million / MILLION).quantize(AMOUNT_QUANTUM)


def charge_breakdown(usage: Mapping[str, int], prices: PriceSheet) -> CostBreakdown:
    """What a provider response costs: pure, exact, in Decimal USD."""
    lines = tuple(
        CostLine(
            kind=str(kind),
            tokens=tokens,
            unit=prices[kind],
            amount_usd=line_amount(tokens, prices[kind].usd_per_million),
        )
        for kind, tokens in billable_tokens(usage).items()
    )
    return CostBreakdown(model=prices.model, deployment_tier=prices.deployment_tier, lines=lines)


def price_sheet_at(at: dt.datetime, *, model: str = DEFAULT_MODEL, deployment_tier: str = DEFAULT_TIER) -> PriceSheet:
    rows = Price.objects.filter(model=model, deployment_tier=deployment_tier, effective_from__lte=at).filter(
        Q(effective_to__isnull=True) | Q(effective_to__gt=at)
    )
    found = {row.token_kind: UnitPrice(row.pk, row.usd_per_million) for row in rows}
    missing = [kind for kind in TokenKind.values if kind not in found]
    if missing:
        raise PriceMissing(f"no {model}/{deployment_tier} price for {', '.join(missing)} at {at.isoformat()}")
    return PriceSheet(model=model, deployment_tier=deployment_tier, prices=found)


def ledger_charge_cost(
    usage: Mapping[str, int], at: dt.datetime, *, model: str = DEFAULT_MODEL, deployment_tier: str = DEFAULT_TIER
) -> CostBreakdown:
    """The cost of `usage` at the prices in force at `at`."""
    return charge_breakdown(usage, price_sheet_at(at, model=model, deployment_tier=deployment_tier))


def job_cost_ceiling(
    *,
    output_tokens: int,
    text_input_tokens: int = 0,
    image_input_tokens: int = 0,
    at: dt.datetime | None = None,
    model: str = DEFAULT_MODEL,
    deployment_tier: str = DEFAULT_TIER,
) -> Decimal:
    """The most a job can cost given upper bounds of its tokens: nothing assumed cached. This is what
    a job holds against its budget at submit."""
    usage = {"text_input_tokens": text_input_tokens, "image_input_tokens": image_input_tokens}
    usage["output_tokens"] = output_tokens
    return ledger_charge_cost(usage, at or timezone.now(), model=model, deployment_tier=deployment_tier).total_usd


@transaction.atomic
def price_set(
    *,
    token_kind: str,
    usd_per_million: Decimal,
    effective_from: dt.datetime,
    model: str = DEFAULT_MODEL,
    deployment_tier: str = DEFAULT_TIER,
) -> Price:
    """A new price from `effective_from` on: the price in force then is closed at that moment, never edited.

    Past ledger entries keep the unit prices they snapshotted; only later charges use the new price.
    """
    if token_kind not in TokenKind.values:
        raise ValidationError({"token_kind": f"must be one of {', '.join(TokenKind.values)}"})
    amount = Decimal(str(usd_per_million))
    if amount < 0 or amount != amount.quantize(Decimal(1).scaleb(-PRICE_PLACES)):
        raise ValidationError({"usd_per_million": f"must be >= 0 with at most {PRICE_PLACES} decimal places"})
    rows = Price.objects.select_for_update(no_key=True).filter(
        model=model, deployment_tier=deployment_tier, token_kind=token_kind
    )
    latest = rows.order_by("-effective_from").first()
    if latest is not None and effective_from <= latest.effective_from:
        raise ValidationError({"effective_from": f"must be after the latest price's start ({latest.effective_from})"})
    if latest is not None and (latest.effective_to is None or latest.effective_to > effective_from):
        rows.filter(pk=latest.pk).update(effective_to=effective_from)
    return Price.objects.create(
        model=model,
        deployment_tier=deployment_tier,
        token_kind=token_kind,
        usd_per_million=amount,
        effective_from=effective_from,
    )
