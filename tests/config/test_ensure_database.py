"""`make run`'s first step refuses a database whose signing keys another checkout's secret encrypted (two
checkouts share the default database `dam`, not their secret nor their media): before, the platform started and
every job failed on the first one's keys."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet
from django.core.management import CommandError, call_command

from dam.credentials.keys import key_install
from dam.models import SigningKey
from tests.support.c2pa_ca import cached_signing_cert

pytestmark = pytest.mark.django_db


def _installed_key(tenant):
    cert = cached_signing_cert("Checkout")
    return key_install(tenant_id=tenant.pk, certificate_chain_pem=cert.chain_pem, private_key_pem=cert.private_key_pem)


def test_a_database_whose_keys_this_checkout_wrote_is_used(tenant_a, capsys):
    _installed_key(tenant_a)
    call_command("ensure_database")
    assert "exists" in capsys.readouterr().out


def test_a_database_whose_keys_another_secret_wrote_is_refused_and_says_what_to_do(tenant_a):
    key = _installed_key(tenant_a)
    foreign = Fernet(Fernet.generate_key()).encrypt(b"-----BEGIN PRIVATE KEY-----").decode()
    SigningKey.unscoped.filter(pk=key.pk).update(private_key_encrypted=foreign)
    with pytest.raises(CommandError, match="another secret") as refused:
        call_command("ensure_database")
    assert "DATABASE_URL=" in str(refused.value) and "dev-secret-key" in str(refused.value)
