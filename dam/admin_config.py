"""Installs the platform's admin site as Django's default one.

Every `@admin.register` (ours and third parties') then lands on `dam.admin_site.DamAdminSite`,
and `dam/urls.py` keeps serving `admin.site.urls`. Kept apart from admin_site.py because app
configs are imported before the models are ready.
"""

from django.contrib.admin.apps import AdminConfig


class DamAdminConfig(AdminConfig):
    default_site = "dam.admin_site.DamAdminSite"
