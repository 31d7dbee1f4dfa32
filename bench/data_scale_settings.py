"""Settings of the data-scale benchmark's process: the bench stack's, plus the storefront benchmark's URL conf (the
real app and its in-memory baseline view, bench/storefront_app.py)."""

from bench.stack_settings import *  # noqa: F403

ROOT_URLCONF = "bench.storefront_app"
