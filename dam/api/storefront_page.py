"""The storefront's JSON for assets, built straight from rows: what the list and the detail answer.

The answer is the one `dam.api.storefront.storefront_asset_data` (the reference, documented by the serializers
there) gives, dict for dict and so byte for byte once rendered; tests/dam/test_storefront_page.py compares them
over a varied dataset and bench/storefront.py on its page. What differs is the cost: the rows come from one
statement (`storefront_page_versions`), not model instances and two ORM queries; what does not depend on the
request is worked out once per process (a spec's path segment, a format's extension, a reduced aspect ratio)
or once per page (the signed URLs' expiry), and each URL is one f-string (plus its HMAC when the tenant's URLs
are signed); the JSON is orjson's (`render_json`: DRF's renderer's bytes, a few times faster).
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import Any

import orjson
from django.conf import settings

from dam.delivery.signing import signed_expiry, signed_query
from dam.formats import FORMATS
from dam.selectors.storefront import ORIGINAL_SPEC, PageVersion, UrlBuilder, spec_segment

# The asset columns a page shows, as `.values()` names (the collection's slug through its join).
PAGE_ASSET_FIELDS = ("id", "title", "tags", "locale", "collection__slug", "storefront_version_id")

_EXTENSIONS = {name: info.extension for name, info in FORMATS.items()}
_ORIGINAL_SEGMENT = spec_segment(ORIGINAL_SPEC)


@lru_cache(maxsize=4096)
def _segment(spec: str) -> str:
    return spec_segment(spec)


@lru_cache(maxsize=4096)
def _ratio(width: int, height: int) -> str:
    divisor = math.gcd(width, height)
    return f"{width // divisor}:{height // divisor}"


class PageWriter:
    """Turns a page's rows into the storefront's dicts, with the URLs `urls` gives (absolute; signed if required)."""

    __slots__ = ("_expires", "_origin")

    def __init__(self, urls: UrlBuilder) -> None:
        self._origin = urls.origin
        # UrlBuilder.url signs every URL of a page with the same expiry (one `now`, one TTL): computed once here.
        self._expires = signed_expiry(now=urls.now, ttl=settings.DELIVERY_SIGNED_URL_TTL_SECONDS) if urls.sign else None

    def _url(self, path: str) -> str:
        if self._expires is None:
            return self._origin + path
        return f"{self._origin}{path}?{signed_query(path, expires=self._expires)}"

    def asset(self, asset: dict[str, Any], version: PageVersion) -> dict[str, Any]:
        """One asset (a `.values(*PAGE_ASSET_FIELDS)` row) and its shown version: `storefront_asset_data`'s dict."""
        url = self._url
        asset_id = asset["id"]
        prefix = f"/d/{version.id}/"
        renditions = []
        candidates = []  # (width, height, format, url): the renditions, then the original
        for spec, slug, width, height, image_format, sha256 in version.renditions:
            image_url = url(f"{prefix}{_segment(spec)}/{sha256}.{_EXTENSIONS[image_format]}")
            renditions.append(
                {
                    "spec": spec,
                    "placement": slug,
                    "width": width,
                    "height": height,
                    "format": image_format,
                    "url": image_url,
                    "current_url": url(f"/d/current/{asset_id}/{slug}")
                    if slug and spec == f"placement:{slug}"
                    else None,
                }
            )
            candidates.append((width, height, image_format, image_url))
        original_url = url(f"{prefix}{_ORIGINAL_SEGMENT}/{version.sha256}.{_EXTENSIONS[version.format]}")
        candidates.append((version.width, version.height, version.format, original_url))
        return {
            "id": asset_id,
            "title": asset["title"],
            "collection": asset["collection__slug"],
            "tags": list(asset["tags"]),
            "locale": version.locale or asset["locale"],
            "version": {
                "id": version.id,
                "number": version.number,
                "status": version.status,
                "width": version.width,
                "height": version.height,
                "format": version.format,
                "sha256": version.sha256,
                "url": original_url,
                "available_from": version.available_from,
                "available_until": version.available_until,
            },
            "alt_text": dict(version.alt_text or {}),
            "renditions": renditions,
            "srcsets": _srcsets(candidates),
        }


def _srcsets(candidates: list[tuple[int, int, str, str]]) -> list[dict[str, Any]]:
    """`dam.api.storefront._srcsets` over tuples: groups of one aspect ratio and one format, in the order of
    (ratio, format); in each, one candidate per width (the last one seen), narrowest first."""
    groups: dict[tuple[str, str], dict[int, str]] = {}
    for width, height, image_format, image_url in candidates:
        key = (_ratio(width, height), image_format)
        group = groups.get(key)
        if group is None:
            groups[key] = {width: image_url}
        else:
            group[width] = image_url
    result = []
    for key in sorted(groups):
        ordered = sorted(groups[key].items())
        result.append(
            {
                "aspect_ratio": key[0],
                "format": key[1],
                "srcset": ", ".join(f"{image_url} {width}w" for width, image_url in ordered),
                "candidates": [{"url": image_url, "width": width} for width, image_url in ordered],
            }
        )
    return result


_LINE_SEPARATOR, _PARAGRAPH_SEPARATOR = "\u2028".encode(), "\u2029".encode()


def render_json(data: Any) -> bytes:
    """What DRF's JSONRenderer gives for `data` (dicts, lists, str, int, bool, None, datetimes), by orjson: compact,
    UTF-8 unescaped, a UTC time with `Z`, and U+2028 and U+2029 escaped as DRF escapes them (JavaScript strings
    cannot hold them raw). tests/dam/test_storefront_page.py holds the two to the same bytes."""
    body = orjson.dumps(data, option=orjson.OPT_UTC_Z)
    if _LINE_SEPARATOR in body or _PARAGRAPH_SEPARATOR in body:
        body = body.replace(_LINE_SEPARATOR, b"\\u2028").replace(_PARAGRAPH_SEPARATOR, b"\\u2029")
    return body
