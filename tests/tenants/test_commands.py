from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from tenants.models import Tenant

pytestmark = pytest.mark.django_db


def _run(*args: str) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command(*args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_create_tenant_and_issue_a_key_that_authenticates(client):
    _run("create_tenant", "brand-x", "--name", "Brand X", "--time-zone", "Asia/Tokyo")
    assert Tenant.objects.get(slug="brand-x").time_zone == "Asia/Tokyo"
    token, notice = _run("create_api_key", "brand-x", "--name", "shop", "--scope", "assets:read")
    assert "cannot be shown again" in notice
    response = client.get("/api/v1/tenant", HTTP_AUTHORIZATION=f"Bearer {token.strip()}")
    assert response.status_code == 200 and response.json()["slug"] == "brand-x"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["create_tenant", "Bad Slug!", "--name", "x"], "slug"),
        (["create_tenant", "ok-slug", "--name", "x", "--time-zone", "Mars/Olympus"], "time_zone"),
        (["create_api_key", "nobody", "--name", "x", "--scope", "assets:read"], "no tenant"),
    ],
)
def test_commands_refuse_bad_input_with_a_clear_message(args, message):
    with pytest.raises(CommandError, match=message):
        _run(*args)
