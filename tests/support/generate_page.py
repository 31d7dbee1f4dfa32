"""The staff UI's generate page as its tests drive it: a signed-in browser client, the two placements the page's
tests plan for, and the form a person fills in."""

from __future__ import annotations

from django.test import Client

from tenants.models import Tenant
from tenants.services import placement_create

GENERATE = "/admin/generation/job/generate/"
PLAN = "/admin/generation/job/generate/plan/"


def signed_in(user) -> Client:
    """A Django test client with `user` logged in to the staff UI."""
    client = Client()
    client.force_login(user)
    return client


def generate_placements(tenant: Tenant) -> None:
    """A wide leaderboard (beyond the model's 3:1) and a tall story: two aspect groups, two provider calls."""
    placement_create(tenant=tenant, slug="leaderboard", width=970, height=250, output_format="png")
    placement_create(tenant=tenant, slug="mobile-story", width=1080, height=1920, output_format="jpeg")


def form(**overrides) -> dict:
    """The generate form filled in for both placements in Japanese and German; `overrides` replace fields."""
    data = {
        "prompt": "A trail shoe on wet rock",
        "placements": ["leaderboard", "mobile-story"],
        "locale_code": ["ja", "de"],
        "locale_copy": ["新登場", "Neu"],
        "quality": "low",
        "routing_mode": "auto",
        "n": "1",
        "output_format": "png",
        "idempotency_key": "form-1",
    }
    data.update(overrides)
    return data
