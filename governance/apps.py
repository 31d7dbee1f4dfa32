from django.apps import AppConfig
from django.db.models.signals import post_migrate


def _seed_price_book(sender, apps=None, **kwargs) -> None:
    # After `migrate` (with the migrated state's models), and after `flush` (the test runner's reset
    # between transactional tests, which sends no `apps`: the current models then).
    from django.apps import apps as current_apps

    try:
        price_model = (apps or current_apps).get_model("governance", "Price")
    except LookupError:  # migrated backwards past the price book
        return
    from governance.prices import price_book_seed

    price_book_seed(price_model)


class GovernanceConfig(AppConfig):
    name = "governance"
    verbose_name = "Governance"

    def ready(self) -> None:
        from governance.services.audit import audit_record, audit_record_many
        from tenants.audit import install_audit_writer

        # tenants' services write their audit events through this port (tenants may not import governance).
        install_audit_writer(audit_record, many=audit_record_many)
        post_migrate.connect(_seed_price_book, sender=self, dispatch_uid="governance.seed_price_book")
