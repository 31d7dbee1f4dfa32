"""A short-lived, per-process cache of rendered storefront list pages, checked on every hit.

A hit is served only after one query confirms that every version on the cached page is
still visible (approved or published, inside its window): a blocked, rejected or expired
version is never served from the cache, it forces a fresh render. What a hit may miss for
at most STOREFRONT_LIST_CACHE_SECONDS is news: a newly approved asset or version, a new
rendition, an edited title. Keys carry the tenant, whether its URLs are signed, and the
full query string (filters, page size, cursor).
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from dataclasses import dataclass

MAX_PAGES = 512


@dataclass(frozen=True)
class CachedPage:
    body: bytes
    version_ids: tuple[int, ...]
    expires_at: float  # time.monotonic()


class PageCache:
    def __init__(self, max_pages: int = MAX_PAGES) -> None:
        self._pages: OrderedDict[tuple, CachedPage] = OrderedDict()
        self._lock = threading.Lock()
        self._max_pages = max_pages

    def get(self, key: tuple) -> CachedPage | None:
        with self._lock:
            page = self._pages.get(key)
            if page is None:
                return None
            if page.expires_at <= time.monotonic():
                del self._pages[key]
                return None
            self._pages.move_to_end(key)
            return page

    def put(self, key: tuple, page: CachedPage) -> None:
        with self._lock:
            self._pages[key] = page
            self._pages.move_to_end(key)
            while len(self._pages) > self._max_pages:
                self._pages.popitem(last=False)

    def discard(self, key: tuple) -> None:
        with self._lock:
            self._pages.pop(key, None)

    def clear(self) -> None:
        with self._lock:
            self._pages.clear()


storefront_pages = PageCache()
