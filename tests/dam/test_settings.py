import os
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

REPO = Path(__file__).resolve().parents[2]
PRODUCTION = {
    "DEBUG": "0",
    "SECRET_KEY": "x" * 64 + "production-secret-for-the-check",
    "ALLOWED_HOSTS": "dam.example.com",
    "CSRF_TRUSTED_ORIGINS": "https://dam.example.com",
    "FIELD_ENCRYPTION_KEY": Fernet.generate_key().decode(),
}


def _manage(*args: str, **env: str) -> subprocess.CompletedProcess:
    # A production environment: none of the test process's own switches (Playwright sets
    # DJANGO_ALLOW_ASYNC_UNSAFE for the browser tests) leak into it.
    dropped = {"DEBUG", "SECRET_KEY", "DJANGO_SETTINGS_MODULE", "DJANGO_ALLOW_ASYNC_UNSAFE"}
    full_env = {k: v for k, v in os.environ.items() if k not in dropped}
    full_env.update(DJANGO_SETTINGS_MODULE="dam.settings", **env)
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        check=False,
        cwd=REPO,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_check_deploy_is_clean_with_the_production_variables():
    result = _manage("check", "--deploy", "--fail-level", "WARNING", **PRODUCTION)
    assert result.returncode == 0, result.stderr + result.stdout


def test_production_without_a_secret_key_refuses_to_start():
    env = dict(PRODUCTION, SECRET_KEY="")
    result = _manage("check", **env)
    assert result.returncode != 0
    assert "SECRET_KEY is required" in result.stderr


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("DEBUG", "maybe", "is not a boolean"),
        ("API_PAGE_SIZE", "lots", "is not an integer"),
        ("STORAGE_BACKEND", "ftp", "must be one of"),
        ("DATABASE_URL", "mysql://root@localhost/dam", "must point at PostgreSQL"),
        ("LOG_LEVELS", "generation.execution=loud", "must be NAME=LEVEL"),
        ("LOG_LEVELS", "generation.execution", "must be NAME=LEVEL"),
    ],
)
def test_bad_values_fail_loudly_naming_the_variable(name, value, message):
    result = _manage("check", **{name: value})
    assert result.returncode != 0
    assert name in result.stderr and message in result.stderr
