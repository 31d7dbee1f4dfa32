"""The development SECRET_KEY file that settings write when none is given is readable by its owner only."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def _load_settings(var_dir: Path) -> str:
    env = {k: v for k, v in os.environ.items() if k not in ("SECRET_KEY", "DJANGO_SETTINGS_MODULE")}
    env.update(DEBUG="1", DAM_VAR_DIR=str(var_dir))
    done = subprocess.run(
        [sys.executable, "-c", "import os; os.umask(0o022); from config import settings; print(settings.SECRET_KEY)"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.strip()


def test_the_dev_secret_key_file_is_private_and_kept(tmp_path):
    key = _load_settings(tmp_path)
    key_file = tmp_path / "dev-secret-key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert len(key) > 40 and key_file.read_text() == key
    assert _load_settings(tmp_path) == key  # sessions survive a restart
    assert [p.name for p in tmp_path.iterdir()] == ["dev-secret-key"]  # no temporary file left behind


def test_a_dev_secret_key_file_written_readable_by_others_is_tightened(tmp_path):
    key_file = tmp_path / "dev-secret-key"
    key_file.write_text("an-old-development-key-written-with-the-umask-mode-0644")
    key_file.chmod(0o644)
    assert _load_settings(tmp_path) == "an-old-development-key-written-with-the-umask-mode-0644"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
