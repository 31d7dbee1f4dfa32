"""Numbers in requests are ASCII decimal: superscripts, other scripts' digits and huge values are
a 400 or a 404 (or the default), in the API and the staff web UI alike, never a 500 (issue #15)."""

from __future__ import annotations

import pytest
from django.test import Client

from governance.models import Budget
from tenants.numbers import is_digits, parse_int
from tests.factories import make_asset
from tests.support.errors import error_fields

pytestmark = pytest.mark.django_db

NOT_NUMBERS = ["²", "٣", "\uff11", "1²", "9" * 19, "9" * 5000, "", "-", "+1", " 1"]


def test_only_ascii_digits_that_fit_a_bigint_are_numbers():
    assert all(not is_digits(text) for text in NOT_NUMBERS)
    assert is_digits("0") and is_digits("9" * 18) and parse_int("-42") == -42
    assert parse_int("٣", default=7) == 7 and parse_int(None) is None


def _staff(actor) -> Client:
    client = Client()
    client.force_login(actor.user)
    return client


@pytest.mark.parametrize("value", ["²", "٣", "9" * 30])
def test_the_staff_asset_pages_take_only_ascii_version_numbers_and_widths(alice, value):
    asset = make_asset(alice.tenant, title="lamp")
    version = asset.current_version
    client = _staff(alice)
    page = client.get(f"/admin/dam/asset/{asset.pk}/change/", {"v": value})
    assert page.status_code == 200
    assert client.get(f"/admin/dam/asset/{asset.pk}/compare/", {"a": value, "b": value}).status_code in {200, 404}
    assert client.get(f"/admin/dam/asset/version/{version.pk}/thumbnail/", {"w": value}).status_code == 200


def test_the_budgets_page_refuses_a_superscript_threshold_and_key_with_400(alice):
    client = _staff(alice)
    form = {"api_key": "", "monthly_limit_usd": "250", "alert_threshold_percent": "7⁵", "hard_stop": "on"}
    assert client.post("/admin/governance/budgets/", form).status_code == 400
    bad_key = {**form, "alert_threshold_percent": "75", "api_key": "³"}
    assert client.post("/admin/governance/budgets/", bad_key).status_code == 400
    assert not Budget.objects.for_tenant(alice.tenant).exists()


@pytest.mark.parametrize("value", ["²", "٣", "9" * 30])
def test_an_api_filter_id_that_is_not_ascii_digits_is_400_naming_it(alice, value):
    response = alice.client().get("/api/v1/webhook-deliveries", {"endpoint": value})
    assert response.status_code == 400 and error_fields(response) == {"endpoint"}


@pytest.mark.parametrize("size", ["1024x1024²", "²x1024", "\u0661\u0660\u0662\u0664x\u0661\u0660\u0662\u0664"])
def test_a_job_size_in_other_digits_is_400_naming_size(alice, size):
    response = alice.client().post("/api/v1/jobs/plan", {"prompt": "a cabin", "size": size}, format="json")
    assert response.status_code == 400, response.content
    assert error_fields(response) == {"size"}


@pytest.mark.parametrize(
    "path", ["/api/v1/assets/{}", "/api/v1/jobs/{}", "/api/v1/placements/{}", "/api/v1/webhooks/{}"]
)
def test_path_ids_that_are_not_ascii_digits_or_overflow_are_404(alice, path):
    make_asset(alice.tenant, title="lamp")
    for value in ["²", "٣", "9" * 30]:
        assert alice.client().get(path.format(value)).status_code == 404, (path, value)
