"""The staff UI shell: the platform's admin site, navigation, dashboard, base templates and demo seeding.

It sits at the top of the layers and is the one app that imports every other. `StaffAdminConfig` installs the
platform's admin site as Django's default one, so every `@admin.register` (ours and third parties') lands on
`ui.site.DamAdminSite`; kept apart from site.py because app configs are imported before the models are ready.
"""

from django.apps import AppConfig
from django.contrib.admin import apps as admin_apps


class UiConfig(AppConfig):
    default = True
    name = "ui"
    verbose_name = "Staff UI"


class StaffAdminConfig(admin_apps.AdminConfig):
    default = False
    default_site = "ui.site.DamAdminSite"
