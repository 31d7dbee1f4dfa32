from __future__ import annotations

import os

from django.core.management.base import BaseCommand

from dam.demo import demo_seed


class Command(BaseCommand):
    help = "Create (or refresh) the demo tenant, its users and API keys, and print the credentials."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--password", default=os.environ.get("DEMO_PASSWORD") or None)

    def handle(self, *args, password: str | None, **options) -> None:
        creds = demo_seed(password=password)
        self.stdout.write(self.style.SUCCESS(f"demo tenant: {creds.tenant.slug} ({creds.tenant.name})"))
        self.stdout.write(f"admin login:    {creds.admin_username} / {creds.password}")
        self.stdout.write(f"reviewer login: {creds.reviewer_username} / {creds.password}")
        self.stdout.write(f"editor login:   {creds.editor_username} / {creds.password}")
        for name, token in creds.api_keys.items():
            self.stdout.write(f"API key {name}: {token}")
