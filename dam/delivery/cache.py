"""Per-process caches of what storefront requests read most: rendered list pages, signing flags.

Both are emptied, per tenant, by the change feed when a change to an asset, version,
rendition, publish window, collection or the tenant's delivery settings commits (triggers
of migration dam 0007; see tenants.change_feed), so a blocked, rejected, deleted or
re-windowed version is never served from here once its change is committed. A page also
expires when the first publish window on it closes, and after STOREFRONT_LIST_CACHE_SECONDS,
which bounds the one thing no row change announces: a window that opens. Keys carry the
tenant, whether its URLs are signed, the origin and the full query string.
"""

from __future__ import annotations

from tenants.change_feed import STOREFRONT_CHANNEL
from tenants.feed_cache import FeedCache

storefront_pages = FeedCache(STOREFRONT_CHANNEL, max_entries=512)
signing_flags = FeedCache(STOREFRONT_CHANNEL, max_entries=10_000)
