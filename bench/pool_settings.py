"""Settings of bench/pool.py's processes: bench/stack_settings.py, with the pool dispatcher's keys under the run's
prefix too (its default, `dam:dispatch`, is shared by every process on the Redis DB: a pool or member key of an
earlier or concurrent run, `pool-1` and `member-1` in every fresh database, would count in this run's windows)."""

from bench.stack_settings import *  # noqa: F403
from bench.stack_settings import _PREFIX

DISPATCH_KEY_PREFIX = f"{_PREFIX}dispatch"
