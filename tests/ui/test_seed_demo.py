import stat
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone

from governance.models import Budget
from tenants.models import ApiKey, BrandPolicy, Membership, Placement, Tenant
from ui.demo import DEMO_PLACEMENTS

pytestmark = pytest.mark.django_db


def _run(*args: str) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command(*args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_seed_demo_is_rerunnable_and_rotates_its_keys(client):
    first, _ = _run("seed_demo", "--password", "first-password-123")
    second, _ = _run("seed_demo")
    tenant = Tenant.objects.get(slug="acme")
    assert Membership.objects.for_tenant(tenant).count() == 3
    # Brand data is seeded once; a re-run keeps it rather than piling up versions.
    assert BrandPolicy.objects.for_tenant(tenant).count() == 1
    assert Placement.objects.for_tenant(tenant).count() == len(DEMO_PLACEMENTS)
    assert Budget.objects.for_tenant(tenant).get().monthly_limit_usd == Decimal("500.00")
    keys = ApiKey.objects.for_tenant(tenant)
    assert keys.filter(revoked_at__isnull=True).count() == 2 and keys.count() == 4

    def token(output: str) -> str:
        return next(line.split()[-1] for line in output.splitlines() if "demo-storefront" in line)

    assert client.get("/api/v1/tenant", HTTP_AUTHORIZATION=f"Bearer {token(first)}").status_code == 401
    assert client.get("/api/v1/tenant", HTTP_AUTHORIZATION=f"Bearer {token(second)}").status_code == 200
    password = next(line.split()[-1] for line in second.splitlines() if line.startswith("admin login"))
    assert client.login(username="demo-admin", password=password)


def _tokens(text: str) -> dict[str, str]:
    return {line.split()[2].rstrip(":"): line.split()[-1] for line in text.splitlines() if line.startswith("API key")}


def _status(client, token: str) -> int:
    return client.get("/api/v1/tenant", HTTP_AUTHORIZATION=f"Bearer {token}").status_code


def test_the_demo_keys_in_the_credentials_file_stay_valid_across_reruns(client, tmp_path):
    credentials = tmp_path / ".dev" / "demo-credentials.txt"
    first, _ = _run("seed_demo", "--credentials-file", str(credentials))
    # Only its owner may read the file (live keys and a password), nor list the folder it made.
    assert stat.S_IMODE(credentials.stat().st_mode) == 0o600
    assert stat.S_IMODE(credentials.parent.stat().st_mode) == 0o700
    assert credentials.read_text() == first
    second, _ = _run("seed_demo", "--credentials-file", str(credentials))
    assert _tokens(second) == _tokens(first) and set(_tokens(first)) == {"demo-integration", "demo-storefront"}
    assert second == first  # the password is kept too
    assert all(_status(client, token) == 200 for token in _tokens(second).values())
    tenant = Tenant.objects.get(slug="acme")
    assert ApiKey.objects.for_tenant(tenant).count() == 2  # nothing revoked, nothing new
    password = next(line.split()[-1] for line in second.splitlines() if line.startswith("admin login"))
    assert client.login(username="demo-admin", password=password)


def test_rotate_keys_issues_new_demo_keys_and_revokes_the_kept_ones(client, tmp_path):
    credentials = tmp_path / "demo-credentials.txt"
    first, _ = _run("seed_demo", "--credentials-file", str(credentials))
    rotated, _ = _run("seed_demo", "--credentials-file", str(credentials), "--rotate-keys")
    old, new = _tokens(first), _tokens(rotated)
    assert set(old) == set(new) and not set(old.values()) & set(new.values())
    assert all(_status(client, token) == 401 for token in old.values())
    assert all(_status(client, token) == 200 for token in new.values())
    assert _tokens(credentials.read_text()) == new
    assert stat.S_IMODE(credentials.stat().st_mode) == 0o600


def test_a_kept_key_that_is_no_longer_valid_is_replaced(client, tmp_path):
    credentials = tmp_path / "demo-credentials.txt"
    first, _ = _run("seed_demo", "--credentials-file", str(credentials))
    tenant = Tenant.objects.get(slug="acme")
    storefront = _tokens(first)["demo-storefront"]
    ApiKey.objects.for_tenant(tenant).filter(prefix=storefront.split("_")[1]).update(revoked_at=timezone.now())
    # A tampered token of a live key is not that key either.
    integration = _tokens(first)["demo-integration"]
    credentials.write_text(credentials.read_text().replace(integration, integration[:-4] + "AAAA"))
    second, _ = _run("seed_demo", "--credentials-file", str(credentials))
    assert _tokens(second)["demo-storefront"] != storefront and _tokens(second)["demo-integration"] != integration
    assert all(_status(client, token) == 200 for token in _tokens(second).values())
    assert _status(client, integration) == 401  # the key the tampered line named was revoked, not kept beside
    assert ApiKey.objects.for_tenant(tenant).filter(revoked_at__isnull=True).count() == 2
