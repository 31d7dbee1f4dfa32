from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from tenants.models import ApiKey, Membership, Tenant

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


def test_seed_demo_is_rerunnable_and_rotates_its_keys(client):
    first, _ = _run("seed_demo", "--password", "first-password-123")
    second, _ = _run("seed_demo")
    tenant = Tenant.objects.get(slug="acme")
    assert Membership.objects.for_tenant(tenant).count() == 2
    keys = ApiKey.objects.for_tenant(tenant)
    assert keys.filter(revoked_at__isnull=True).count() == 2 and keys.count() == 4

    def token(output: str) -> str:
        return next(line.split()[-1] for line in output.splitlines() if "demo-storefront" in line)

    assert client.get("/api/v1/tenant", HTTP_AUTHORIZATION=f"Bearer {token(first)}").status_code == 401
    assert client.get("/api/v1/tenant", HTTP_AUTHORIZATION=f"Bearer {token(second)}").status_code == 200
    password = next(line.split()[-1] for line in second.splitlines() if line.startswith("admin login"))
    assert client.login(username="demo-admin", password=password)
