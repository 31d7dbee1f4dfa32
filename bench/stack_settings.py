"""Settings of the processes a benchmark starts: the project's own, with every Redis key under the run's prefix.

bench/stack.py sets BENCH_REDIS_PREFIX (unique per run), so the Celery queues, results and rate-limit windows of
one run are invisible to any other process using the same Redis database, and are deleted with one prefix scan.
"""

import os

from config.settings import *  # noqa: F403
from config.settings import CELERY_BROKER_TRANSPORT_OPTIONS

_PREFIX = os.environ["BENCH_REDIS_PREFIX"]

CELERY_BROKER_TRANSPORT_OPTIONS = {**CELERY_BROKER_TRANSPORT_OPTIONS, "global_keyprefix": _PREFIX}
CELERY_RESULT_BACKEND_TRANSPORT_OPTIONS = {"global_keyprefix": _PREFIX}
RATE_LIMIT_KEY_PREFIX = f"{_PREFIX}ratelimit"
# The pool dispatcher too: a fresh database's pool-1 and member-1 must not share keys with another run's.
DISPATCH_KEY_PREFIX = f"{_PREFIX}dispatch"
MODERATION_CACHE_KEY_PREFIX = f"{_PREFIX}moderation"
