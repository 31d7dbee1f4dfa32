"""The storefront API's HTTP caching headers: ETag, Cache-Control, Vary (docs/storefront.md, "CDN and HTTP caching").

The ETag is a digest of the tenant, the request's path and query, and the exact bytes of the body. The
body already holds everything that decides what a response shows (which versions are visible now, their
windows, renditions, URLs, signatures), so the tag changes whenever anything shown changes, whatever
changed it: a publish, an unpublish, a metadata edit, a window that opened or closed. A content digest
instead of a change counter because nothing counts a tenant's changes across processes: the change
feed's generation (`tenants.feed_cache`) is per process and global, so two workers would hand out
different tags for one page and a CDN's revalidations would miss on every other worker. A digest is the
same on every worker and survives restarts. The page cache (`dam.delivery.cache.storefront_pages`) keeps
the tag beside the body, so a revalidation of a page in memory answers 304 without a query or a render;
the change feed empties that cache when a change commits, so a stale tag is never confirmed from memory.

Freshness (`max-age`) is never longer than STOREFRONT_LIST_CACHE_SECONDS, nor than the time until the
next publish window boundary (a window on the page that closes, or any window of the tenant that opens):
past it the response would show something else without any row changing.

Responses depend on the API key (its tenant), which travels in `Authorization`: they are `private`. A
shared cache that keys only on the URL (Azure Front Door does: it ignores `Vary` except for compression)
would otherwise hand one tenant's page to another tenant's key.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import math
from collections.abc import Iterable

from django.db.models import Subquery
from django.http import HttpRequest, HttpResponse

from dam.models import PublishWindow
from tenants.models import Tenant

VARY = "Authorization, Accept-Encoding"
NOT_CACHEABLE = "no-store"


def etag_for(*, tenant_id: int, path: str, body: bytes) -> str:
    """A strong ETag: same bytes for the same tenant and request give the same tag on every worker."""
    digest = hashlib.blake2b(digest_size=16)
    digest.update(f"{tenant_id}\n{path}\n".encode())
    digest.update(body)
    return f'"sf-{digest.hexdigest()}"'


def etag_matches(request: HttpRequest, etag: str) -> bool:
    """If-None-Match names this tag (weak comparison, RFC 9110 13.1.2: `W/` prefixes are ignored) or is `*`."""
    header = request.headers.get("If-None-Match", "")
    if not header:
        return False
    wanted = etag.removeprefix("W/")
    for part in header.split(","):
        candidate = part.strip()
        if candidate == "*" or candidate.removeprefix("W/") == wanted:
            return True
    return False


def next_window_boundary(*, tenant_id: int, now: dt.datetime) -> dt.datetime | None:
    """When any of the tenant's publish windows next opens or closes: past it a list may show other assets, in
    another order, even on a page that holds none of the windows. Two index probes (the first boundary after now
    on `(tenant, available_from)` and on `(tenant, available_until)`), in one statement: constant however many
    windows the tenant has (a MIN over them grew with them: 1.5 ms at 10,000 windows, bench/data_scale.py)."""
    windows = PublishWindow.objects.for_tenant(tenant_id)
    opens = windows.filter(available_from__gt=now).order_by("available_from").values("available_from")[:1]
    closes = windows.filter(available_until__gt=now).order_by("available_until").values("available_until")[:1]
    bounds = (
        Tenant.objects.filter(pk=tenant_id)
        .annotate(opens=Subquery(opens), closes=Subquery(closes))
        .values("opens", "closes")
        .first()
    ) or {}
    return min((b for b in bounds.values() if b is not None), default=None)


def seconds_fresh(*, now: dt.datetime, ceiling: int, boundaries: Iterable[dt.datetime | None]) -> int:
    """`ceiling`, or fewer: the whole seconds until the first boundary after `now` (rounded down)."""
    seconds = float(ceiling)
    for boundary in boundaries:
        if boundary is not None and boundary > now:
            seconds = min(seconds, (boundary - now).total_seconds())
    return max(0, math.floor(seconds))


def cache_control(max_age: int) -> str:
    # private: the answer depends on the key in Authorization (see the module's docstring).
    # no-cache when nothing may be reused: a window boundary is due within the second.
    return f"private, max-age={max_age}" if max_age > 0 else "private, no-cache"


def with_cache_headers(response: HttpResponse, *, etag: str, max_age: int) -> HttpResponse:
    response["ETag"] = etag
    response["Cache-Control"] = cache_control(max_age)
    response["Vary"] = VARY
    return response


def not_modified(*, etag: str, max_age: int) -> HttpResponse:
    """A 304 carries the headers a 200 would (RFC 9110 15.4.5), and no body."""
    return with_cache_headers(HttpResponse(status=304), etag=etag, max_age=max_age)


def uncacheable(response: HttpResponse) -> HttpResponse:
    """Errors are never stored: a 404 for an asset whose window opens in a minute must not stick."""
    response["Cache-Control"] = NOT_CACHEABLE
    response["Vary"] = VARY
    if "ETag" in response:
        del response["ETag"]
    return response
