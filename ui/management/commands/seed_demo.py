from __future__ import annotations

import os
import tempfile
from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

from ui.demo import DEMO_ADMIN_USERNAME, DemoCredentials, demo_seed

KEY_LINE = "API key "


class Command(BaseCommand):
    help = "Create (or refresh) the demo tenant, its users and API keys, and print the credentials."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--password", default=os.environ.get("DEMO_PASSWORD") or None)
        parser.add_argument(
            "--credentials-file",
            type=Path,
            help="keep the credentials in this file (mode 0600): its API keys and password are reused while valid",
        )
        parser.add_argument("--rotate-keys", action="store_true", help="revoke the demo API keys and issue new ones")

    def handle(self, *args, password: str | None, credentials_file: Path | None, rotate_keys: bool, **options) -> None:
        kept_tokens: dict[str, str] = {}
        if credentials_file is not None and credentials_file.exists():
            kept_password, kept_tokens = _read_credentials(credentials_file.read_text())
            if password is None and kept_password and _still_the_password(kept_password):
                password = kept_password
        creds = demo_seed(password=password, kept_tokens=kept_tokens, rotate_keys=rotate_keys)
        text = _format(creds)
        if credentials_file is not None:
            _write_private(credentials_file, text)
        self.stdout.write(text, ending="")


def _format(creds: DemoCredentials) -> str:
    lines = [
        f"demo tenant: {creds.tenant.slug} ({creds.tenant.name})",
        f"admin login:    {creds.admin_username} / {creds.password}",
        f"reviewer login: {creds.reviewer_username} / {creds.password}",
        f"editor login:   {creds.editor_username} / {creds.password}",
        *(f"{KEY_LINE}{name}: {token}" for name, token in creds.api_keys.items()),
    ]
    return "\n".join(lines) + "\n"


def _read_credentials(text: str) -> tuple[str | None, dict[str, str]]:
    """The password and name -> token pairs of a file `_format` wrote (anything else in it is ignored)."""
    password, tokens = None, {}
    for line in text.splitlines():
        if line.startswith("admin login:") and " / " in line:
            password = line.rsplit(" / ", 1)[1].strip()
        elif line.startswith(KEY_LINE) and ": " in line:
            name, token = line[len(KEY_LINE) :].split(": ", 1)
            tokens[name.strip()] = token.strip()
    return password, tokens


def _still_the_password(password: str) -> bool:
    admin = get_user_model().objects.filter(username=DEMO_ADMIN_USERNAME).first()
    return admin is not None and admin.check_password(password)


def _write_private(path: Path, text: str) -> None:
    """Replace `path` atomically with a file only its owner can read: it holds live API keys and a password."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")  # mkstemp creates it 0600
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(text)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
