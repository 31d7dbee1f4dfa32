from django.apps import AppConfig


class GovernanceConfig(AppConfig):
    name = "governance"
    verbose_name = "Governance"

    def ready(self) -> None:
        from governance.audit import audit_record
        from tenants.audit import install_audit_writer

        # tenants' services write their audit events through this port (tenants may not import governance).
        install_audit_writer(audit_record)
