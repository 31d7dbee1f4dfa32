from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command

from dam.demo import DEMO_PLACEMENTS
from governance.models import Budget
from tenants.models import ApiKey, BrandPolicy, Membership, Placement, Tenant

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
