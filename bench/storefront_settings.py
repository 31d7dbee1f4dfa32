"""Settings of the storefront benchmark's server: the platform's own, plus the bench URL conf."""

from config.settings import *  # noqa: F403

ROOT_URLCONF = "bench.storefront_app"
