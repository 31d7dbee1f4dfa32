"""Test settings: the real services, isolated from development data and from other test runs.

Each pytest session (and each xdist worker) gets its own test database and its own Redis
key prefix, so concurrent runs on one machine, and the Celery worker processes they start
(which inherit DAM_TEST_RUN_ID through the environment), never see each other's data or tasks.
"""

import os
import tempfile
import uuid

_run_id = os.environ.setdefault("DAM_TEST_RUN_ID", uuid.uuid4().hex[:8])
_worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
_scope = f"{_run_id}_{_worker}"
os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/10")
os.environ.setdefault("MEDIA_ROOT", os.path.join(tempfile.gettempdir(), f"dam-test-media-{_scope}"))

from config.settings import *  # noqa: E402, F403
from config.settings import CELERY_BROKER_TRANSPORT_OPTIONS, DATABASES  # noqa: E402

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
API_KEY_LAST_USED_RESOLUTION_SECONDS = 0

# A worker process started by the fixtures is told its database explicitly (DATABASE_URL names
# the test database itself), so only the pytest process needs the per-run test name.
# A whole new DATABASES rather than an item written into the one config.settings built.
if not DATABASES["default"]["NAME"].startswith("test_"):
    DATABASES = {**DATABASES, "default": {**DATABASES["default"], "TEST": {"NAME": f"test_dam_{_scope}"}}}
CELERY_BROKER_TRANSPORT_OPTIONS = {**CELERY_BROKER_TRANSPORT_OPTIONS, "global_keyprefix": f"dam-test-{_scope}:"}
CELERY_RESULT_BACKEND_TRANSPORT_OPTIONS = {"global_keyprefix": f"dam-test-{_scope}:"}
RATE_LIMIT_KEY_PREFIX = f"dam-test-{_scope}:ratelimit"
DISPATCH_KEY_PREFIX = f"dam-test-{_scope}:dispatch"
# Off by default: tests that queue the emulator's verdicts expect every check to reach it; the cache's own
# tests (tests/governance/test_moderation_cache.py) switch it on.
MODERATION_CACHE_SECONDS = 0
MODERATION_CACHE_KEY_PREFIX = f"dam-test-{_scope}:moderation"
