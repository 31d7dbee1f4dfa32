from django.apps import AppConfig


class TenantsConfig(AppConfig):
    name = "tenants"
    verbose_name = "Tenants"

    def ready(self) -> None:
        from django.contrib.auth.signals import user_logged_in

        from tenants import login_throttle  # noqa: F401  (connects the login audit receivers)
        from tenants.web_security import stamp_login

        user_logged_in.connect(stamp_login, dispatch_uid="tenants.web_security.stamp_login")
