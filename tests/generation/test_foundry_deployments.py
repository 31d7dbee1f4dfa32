"""Tenant-owned Foundry deployments: encrypted keys, one default per tenant, the config selector, the admin."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import connection
from django.test import override_settings

from generation.foundry.config import ApiStyle, AuthKind, Secret, platform_deployment_config
from generation.foundry.encryption import DecryptionError
from generation.models import Deployment
from generation.selectors.deployments import deployment_config_for
from generation.services.deployments import deployment_create, deployment_save

KEY = "tenant-a-foundry-key-7f3c9d0e1b2a"


def _create(tenant, name="brand-prod", key=KEY, **fields) -> Deployment:
    return deployment_create(
        tenant=tenant,
        name=name,
        endpoint="https://contoso-a.openai.azure.com",
        deployment="gpt-image-2-prod",
        api_key=key,
        **fields,
    )


def _stored_row_text(pk: int) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT row_to_json(d)::text FROM generation_deployment d WHERE id = %s", [pk])
        return cursor.fetchone()[0]


def test_key_round_trips_encrypted_and_never_in_clear_in_the_database(tenant_a):
    created = _create(tenant_a, api_style="v1", rpm=12, tpm=120_000)
    stored = _stored_row_text(created.pk)
    assert KEY not in stored
    assert created.api_key_ciphertext and created.api_key_ciphertext in stored

    reloaded = Deployment.objects.for_tenant(tenant_a).get(pk=created.pk)
    assert reloaded.api_key() == Secret(KEY)
    config = reloaded.to_config()
    assert config.api_key.reveal() == KEY
    assert config.api_style is ApiStyle.V1 and (config.rpm, config.tpm) == (12, 120_000)
    for text in (repr(reloaded), str(reloaded), repr(config), str(reloaded.__dict__)):
        assert KEY not in text


def test_same_key_encrypts_differently_each_time(tenant_a):
    first, second = _create(tenant_a, name="one"), _create(tenant_a, name="two")
    assert first.api_key_ciphertext != second.api_key_ciphertext


def test_wrong_encryption_key_cannot_decrypt_and_rotation_keeps_old_rows_readable(tenant_a):
    created = _create(tenant_a)
    with override_settings(FIELD_ENCRYPTION_KEY=Fernet.generate_key().decode()):
        with pytest.raises(DecryptionError) as caught:
            Deployment.objects.for_tenant(tenant_a).get(pk=created.pk).api_key()
        assert KEY not in str(caught.value)

    old_key = Fernet.generate_key().decode()
    with override_settings(FIELD_ENCRYPTION_KEY=old_key):
        row = _create(tenant_a, name="rotated")
    with override_settings(FIELD_ENCRYPTION_KEY=f"{Fernet.generate_key().decode()},{old_key}"):
        assert Deployment.objects.for_tenant(tenant_a).get(pk=row.pk).api_key().reveal() == KEY


def test_selector_uses_the_tenants_default_row_else_the_platform_default(tenant_a, tenant_b):
    _create(tenant_a, name="not-default")
    assert deployment_config_for(tenant=tenant_a) == platform_deployment_config()

    _create(tenant_a, name="brand-default", is_default=True)
    config = deployment_config_for(tenant=tenant_a)
    assert config.endpoint == "https://contoso-a.openai.azure.com"
    assert config.api_key.reveal() == KEY
    # Tenant B has no row of its own and never sees tenant A's.
    assert deployment_config_for(tenant=tenant_b) == platform_deployment_config()


def test_marking_a_new_default_unmarks_the_previous_one(tenant_a):
    first = _create(tenant_a, name="first", is_default=True)
    second = _create(tenant_a, name="second", is_default=True)
    defaults = list(Deployment.objects.for_tenant(tenant_a).filter(is_default=True).values_list("name", flat=True))
    assert defaults == ["second"]
    first.refresh_from_db()
    assert not first.is_default and second.is_default


def test_api_key_deployment_without_key_is_refused_entra_is_not(tenant_a):
    with pytest.raises(ValidationError):
        _create(tenant_a, key=None)
    assert not Deployment.objects.for_tenant(tenant_a).exists()
    entra = _create(tenant_a, name="entra", key=None, auth_kind=AuthKind.ENTRA)
    assert entra.to_config().auth_kind is AuthKind.ENTRA


def test_saving_without_a_new_key_keeps_the_stored_one(tenant_a):
    created = _create(tenant_a)
    ciphertext = created.api_key_ciphertext
    created.rpm = 99
    deployment_save(deployment=created)
    created.refresh_from_db()
    assert created.api_key_ciphertext == ciphertext and created.rpm == 99


@pytest.fixture
def admin_client(client, db):
    user = get_user_model().objects.create_superuser("root", "root@example.com", "pw")
    client.force_login(user)
    return client


def test_admin_never_renders_the_key_and_keeps_it_when_left_blank(admin_client, tenant_a):
    created = _create(tenant_a)
    assert admin_client.get("/admin/generation/deployment/add/").status_code == 200
    assert KEY not in admin_client.get("/admin/generation/deployment/").content.decode()
    url = f"/admin/generation/deployment/{created.pk}/change/"
    page = admin_client.get(url)
    assert page.status_code == 200
    body = page.content.decode()
    assert KEY not in body and created.api_key_ciphertext not in body

    form = {
        "tenant": tenant_a.pk,
        "name": "brand-prod",
        "endpoint": "https://contoso-a.openai.azure.com",
        "deployment": "gpt-image-2-prod",
        "api_style": "deployments",
        "api_version": "2025-04-01-preview",
        "auth_kind": "api_key",
        "connect_timeout_seconds": 5,
        "read_timeout_seconds": 120,
        "rpm": 30,
        "tpm": 300000,
        "max_attempts": 3,
        "max_retry_seconds": 60,
        "make_default": "on",
        "api_key": "",
    }
    assert admin_client.post(url, form).status_code == 302
    created.refresh_from_db()
    assert created.api_key().reveal() == KEY and created.rpm == 30 and created.is_default

    new_key = "rotated-key-a1b2c3d4e5f6"
    assert admin_client.post(url, {**form, "api_key": new_key}).status_code == 302
    created.refresh_from_db()
    assert created.api_key().reveal() == new_key
    assert new_key not in _stored_row_text(created.pk)
    assert new_key not in admin_client.get(url).content.decode()


def test_admin_switches_the_default(admin_client, tenant_a):
    first = _create(tenant_a, name="first", is_default=True)
    second = _create(tenant_a, name="second")
    form = {
        "tenant": tenant_a.pk,
        "name": "second",
        "endpoint": second.endpoint,
        "deployment": second.deployment,
        "api_style": "deployments",
        "api_version": second.api_version,
        "auth_kind": "api_key",
        "connect_timeout_seconds": 10,
        "read_timeout_seconds": 180,
        "rpm": 60,
        "tpm": 600000,
        "max_attempts": 4,
        "max_retry_seconds": 300,
        "make_default": "on",
    }
    response = admin_client.post(f"/admin/generation/deployment/{second.pk}/change/", form)
    assert response.status_code == 302, response.context["adminform"].form.errors
    first.refresh_from_db()
    second.refresh_from_db()
    assert second.is_default and not first.is_default


def test_admin_changes_and_deletes_are_audited_without_the_key(admin_client, tenant_a):
    from governance.models import AuditEvent

    created = _create(tenant_a)
    url = f"/admin/generation/deployment/{created.pk}/change/"
    form = {
        "tenant": tenant_a.pk,
        "name": "brand-prod",
        "endpoint": created.endpoint,
        "deployment": created.deployment,
        "api_style": "deployments",
        "api_version": created.api_version,
        "auth_kind": "api_key",
        "connect_timeout_seconds": 10,
        "read_timeout_seconds": 180,
        "rpm": 30,
        "tpm": 600000,
        "max_attempts": 4,
        "max_retry_seconds": 300,
        "api_key": "rotated-key-a1b2c3d4e5f6",
    }
    assert admin_client.post(url, form).status_code == 302
    assert admin_client.post(f"/admin/generation/deployment/{created.pk}/delete/", {"post": "yes"}).status_code == 302

    events = list(AuditEvent.objects.for_tenant(tenant_a).filter(target_type="deployment").order_by("seq"))
    assert [e.action for e in events] == ["deployment.created", "deployment.updated", "deployment.deleted"]
    assert events[1].actor_label == "user:root"
    assert events[1].payload["after"] == {"rpm": 30} and events[1].payload["api_key"] == "replaced"
    assert not Deployment.objects.for_tenant(tenant_a).exists()
    for event in events:
        assert KEY not in str(event.payload) and "rotated-key" not in str(event.payload)
