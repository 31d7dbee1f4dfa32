from django.apps import AppConfig


class DamConfig(AppConfig):
    name = "dam"
    verbose_name = "Asset library"

    def ready(self) -> None:
        from governance.services.budgets import register_budget_alert_hook

        register_budget_alert_hook(_budget_alert_webhook)


def _budget_alert_webhook(alert) -> None:
    """Tell the tenant's webhooks that a budget crossed its alert threshold (after the spend committed)."""
    if alert.kind != "threshold_reached":
        return
    from django.db import transaction

    from dam.services.webhooks import webhook_emit

    with transaction.atomic():
        webhook_emit(
            tenant=alert.tenant_id,
            event="budget.threshold_reached",
            payload={
                "period": alert.period.isoformat(),
                "api_key_id": alert.api_key_id,
                "limit_usd": str(alert.limit_usd),
                "threshold_usd": str(alert.threshold_usd),
                "charged_usd": str(alert.charged_usd),
            },
        )
