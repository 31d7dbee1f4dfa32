"""Add a price to the price book from a date on (the price in force then is closed, never edited)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from governance.models import DEFAULT_MODEL, DEFAULT_TIER, TokenKind
from governance.prices import price_set


class Command(BaseCommand):
    help = "Set the USD price per 1M tokens of one token kind from EFFECTIVE_FROM (ISO datetime, UTC if naive)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("token_kind", choices=TokenKind.values)
        parser.add_argument("usd_per_million")
        parser.add_argument("effective_from")
        parser.add_argument("--model", default=DEFAULT_MODEL)
        parser.add_argument("--tier", default=DEFAULT_TIER)

    def handle(self, *args, token_kind, usd_per_million, effective_from, model, tier, **options) -> None:
        try:
            amount = Decimal(usd_per_million)
            start = dt.datetime.fromisoformat(effective_from)
        except (InvalidOperation, ValueError) as exc:
            raise CommandError(str(exc)) from None
        if start.tzinfo is None:
            start = start.replace(tzinfo=dt.UTC)
        try:
            price = price_set(
                token_kind=token_kind, usd_per_million=amount, effective_from=start, model=model, deployment_tier=tier
            )
        except ValidationError as exc:
            raise CommandError("; ".join(f"{k}: {', '.join(v)}" for k, v in exc.message_dict.items())) from None
        self.stdout.write(f"{price} from {price.effective_from.isoformat()}")
