"""The webhooks page in the browser: register an endpoint (secret shown once), edit its URL and events
in place, and see the change on the page and in the database."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from dam.models import WebhookEndpoint
from tests.support.browser import log_in, screenshot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_an_admin_registers_then_edits_an_endpoint(page, alice, settings):
    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = True  # no DNS here
    log_in(page, "alice", "pw-alice")
    page.goto("/admin/dam/webhookendpoint/")
    page.fill("#id_url", "https://hooks.example.com/dam")
    page.check("#webhook-form input[name=events][value='job.failed']")
    page.click("#save-webhook")
    expect(page.locator("#webhook-secret")).to_contain_text("whsec_")
    endpoint = WebhookEndpoint.objects.for_tenant(alice.tenant).get()

    page.goto("/admin/dam/webhookendpoint/")
    edit = page.locator(f"details[data-edit='{endpoint.pk}']")
    edit.locator("summary").click()
    edit.locator("input[name=url]").fill("https://hooks.example.com/dam/v2")
    edit.locator("input[name=events][value='job.succeeded']").check()
    screenshot(page, "webhooks-edit")
    edit.locator("button[type=submit]").click()
    expect(page.locator(f"section[data-endpoint='{endpoint.pk}'] h2")).to_have_text("https://hooks.example.com/dam/v2")
    endpoint.refresh_from_db()
    assert endpoint.url == "https://hooks.example.com/dam/v2"
    assert sorted(endpoint.events) == ["job.failed", "job.succeeded"]
    screenshot(page, "webhooks")
