"""Test settings: the real services, isolated from the development data."""

import os
import tempfile

# Each xdist worker gets its own Redis database so Celery queues of parallel runs never mix.
_worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
_redis_db = 10 + int(_worker.removeprefix("gw") or 0) % 6
os.environ.setdefault("REDIS_URL", f"redis://127.0.0.1:6379/{_redis_db}")
os.environ.setdefault("MEDIA_ROOT", os.path.join(tempfile.gettempdir(), f"dam-test-media-{_worker}"))

from dam.settings import *  # noqa: E402, F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
API_KEY_LAST_USED_RESOLUTION_SECONDS = 0
