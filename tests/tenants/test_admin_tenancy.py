"""The staff UI's tenant scoping: who sees which tenant, the switcher, and the admin base's guard rails."""

from __future__ import annotations

import pytest
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.test import Client, RequestFactory

from tenants.admin.base import SESSION_TENANT_KEY, TenantScopedAdmin, admin_tenant_context
from tenants.models import Membership, Role
from tenants.scoping import TenantOwnedModel
from tenants.services import membership_set
from tests.factories import make_asset, make_tenant, make_user
from tests.support.generate_page import signed_in

pytestmark = pytest.mark.django_db


def admin_request(client: Client, user):
    """A request carrying the client's session, to ask the admin classes directly."""
    request = RequestFactory().get("/admin/")
    request.user = user
    request.session = client.session
    return request


def test_a_subclass_may_not_override_get_queryset():
    with pytest.raises(TypeError, match="scoped_queryset"):

        class Leaky(TenantScopedAdmin):
            def get_queryset(self, request):
                return super().get_queryset(request)


def test_every_registered_admin_of_tenant_rows_is_scoped_or_superuser_only(alice, charlie):
    """A new model admin cannot leak: it is a TenantScopedAdmin, or staff without superuser see nothing."""
    make_asset(alice.tenant, title="alice-only")
    client = signed_in(charlie.user)
    client.get("/admin/")
    request = admin_request(client, charlie.user)
    for model, model_admin in admin.site._registry.items():
        if not issubclass(model, TenantOwnedModel):
            continue
        if isinstance(model_admin, TenantScopedAdmin):
            rows = model_admin.get_queryset(request)
            assert not rows.filter(tenant=alice.tenant).exists(), model.__name__
        else:
            assert not model_admin.has_view_permission(request), model.__name__
            assert not model_admin.has_module_permission(request), model.__name__


def test_a_member_works_in_their_tenant_with_their_roles_scopes(alice, bob):
    client = signed_in(bob.user)
    assert client.get("/admin/").status_code == 200
    context = admin_tenant_context(admin_request(client, bob.user))
    assert context.tenant == bob.tenant and context.role == Role.REVIEWER
    assert client.session[SESSION_TENANT_KEY] == bob.tenant.slug  # the session API reads the same key
    assert context.can("assets:read") and context.can("reviews:write") and not context.can("jobs:write")


def test_the_switcher_moves_between_own_tenants_and_refuses_others(alice, tenant_b):
    third = make_tenant("tenant-c", name="Tenant C")
    membership_set(tenant=third, user=alice.user, role=Role.EDITOR)
    client = signed_in(alice.user)
    response = client.post("/admin/switch-tenant/", {"tenant": "tenant-c", "next": "/admin/dam/asset/12/change/"})
    assert response.status_code == 302 and response["Location"] == "/admin/dam/asset/"
    assert client.session[SESSION_TENANT_KEY] == "tenant-c"
    assert admin_tenant_context(admin_request(client, alice.user)).role == Role.EDITOR

    refused = client.post("/admin/switch-tenant/", {"tenant": tenant_b.slug})
    assert refused.status_code == 302
    assert client.session[SESSION_TENANT_KEY] == "tenant-c"  # unchanged
    assert client.post("/admin/switch-tenant/", {"tenant": ""}).status_code == 302
    assert client.session[SESSION_TENANT_KEY] == "tenant-c"  # "all tenants" is for superusers only


def test_a_stale_session_tenant_falls_back_to_a_membership(alice, tenant_b):
    client = signed_in(alice.user)
    session = client.session
    session[SESSION_TENANT_KEY] = tenant_b.slug
    session.save()
    context = admin_tenant_context(admin_request(client, alice.user))
    assert context.tenant == alice.tenant


def test_staff_without_membership_see_an_empty_dashboard(alice):
    loner = make_user("loner")
    make_asset(alice.tenant, title="not for loner")
    response = signed_in(loner).get("/admin/")
    assert response.status_code == 200
    assert b"No tenant yet" in response.content and b"not for loner" not in response.content
    assert signed_in(loner).get("/admin/dam/asset/").status_code == 403


def test_a_superuser_sees_all_tenants_until_choosing_one(alice, charlie):
    root = get_user_model().objects.create_superuser("root", password="pw-root")
    make_asset(alice.tenant, title="from-a")
    make_asset(charlie.tenant, title="from-b")
    client = signed_in(root)
    overview = client.get("/admin/")
    assert b"All tenants" in overview.content
    assert b"Tenant A" in overview.content and b"Tenant B" in overview.content
    client.post("/admin/switch-tenant/", {"tenant": charlie.tenant.slug})
    page = client.get("/admin/dam/asset/").content.decode()
    assert "from-b" in page and "from-a" not in page


def test_an_owner_role_is_granted_only_by_owners(alice, bob):
    client = signed_in(alice.user)  # an admin, not an owner
    response = client.post(
        f"/admin/tenants/membership/{_membership(bob).pk}/change/", {"username": "bob", "role": "owner"}
    )
    assert response.status_code == 200 and b"Only an owner" in response.content
    assert _membership(bob).role == Role.REVIEWER
    ok = client.post(f"/admin/tenants/membership/{_membership(bob).pk}/change/", {"username": "bob", "role": "editor"})
    assert ok.status_code == 302
    assert _membership(bob).role == Role.EDITOR


def test_a_non_admin_cannot_open_member_or_key_settings(bob):
    client = signed_in(bob.user)  # a reviewer
    for url in ("/admin/tenants/membership/", "/admin/tenants/apikey/", "/admin/tenants/apikey/add/", "/admin/data/"):
        assert client.get(url).status_code == 403, url


def _membership(actor) -> Membership:
    return Membership.objects.for_tenant(actor.tenant).get(user=actor.user)


def test_an_admin_issues_an_api_key_whose_secret_is_shown_once(alice):
    from governance.models import AuditEvent
    from tenants.models import ApiKey

    client = signed_in(alice.user)
    response = client.post(
        "/admin/tenants/apikey/add/", {"name": "cms", "scopes": ["assets:read"], "expires_at_0": "", "expires_at_1": ""}
    )
    assert response.status_code == 302
    key = ApiKey.objects.for_tenant(alice.tenant).get(name="cms")
    assert key.scopes == ["assets:read"] and key.created_by == alice.user
    shown = client.get(response["Location"]).content.decode()
    assert f"dam_{key.prefix}_" in shown
    assert f"dam_{key.prefix}_" not in client.get(f"/admin/tenants/apikey/{key.pk}/change/").content.decode()
    event = AuditEvent.objects.for_tenant(alice.tenant).filter(target_type="api_key", target_id=str(key.pk)).get()
    assert event.actor_label == "user:alice"


def test_a_superuser_who_is_a_member_starts_in_their_tenant_and_may_look_across(alice, charlie):
    root = get_user_model().objects.create_superuser("owner", password="pw-owner")
    membership_set(tenant=alice.tenant, user=root, role=Role.OWNER)
    make_asset(charlie.tenant, title="from-b")
    client = signed_in(root)
    assert b"Tenant A" in client.get("/admin/").content
    assert client.session[SESSION_TENANT_KEY] == alice.tenant.slug
    assert b"from-b" not in client.get("/admin/dam/asset/").content
    client.post("/admin/switch-tenant/", {"tenant": ""})
    assert SESSION_TENANT_KEY not in client.session
    assert b"from-b" in client.get("/admin/dam/asset/").content  # stays across tenants until switched back
