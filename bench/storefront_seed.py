"""Seeds the storefront benchmark's database (run by bench/storefront.py with the bench environment).

    python -m bench.storefront_seed <assets>           # prints the storefront API key
    python -m bench.storefront_seed --queries <key> [<page size> ...]   # SQL queries of an uncached list, per size
    python -m bench.storefront_seed --reference <body file> <origin>   # exit 1 unless the reference answers it

One tenant, N approved assets in a collection, each with an original and the renditions in
RENDITIONS, created through the library services as production code creates them.
"""

from __future__ import annotations

import io
import json
import sys

import django

RENDITIONS = (  # spec, width, height, format
    ("placement:pdp-square", 1080, 1080, "webp"),
    ("placement:hero-wide", 1920, 1080, "jpeg"),
    ("width-400", 400, 400, "webp"),
    ("width-800", 800, 800, "webp"),
)


def seed(assets: int) -> str:
    from django.core.management import call_command
    from PIL import Image

    from dam.blobs import blob_put
    from dam.lifecycle import VersionStatus
    from dam.models import AssetVersion
    from dam.services.assets import asset_create, asset_version_create, collection_get_or_create, rendition_create
    from tenants.models import Scope
    from tenants.services import api_key_create, tenant_create

    call_command("migrate", verbosity=0)
    tenant = tenant_create(slug="bench-shop", name="Bench shop")
    collection = collection_get_or_create(tenant=tenant, slug="summer-26")
    for index in range(assets):
        buffer = io.BytesIO()
        Image.new("RGB", (64, 64), (index % 256, index // 256, 90)).save(buffer, format="PNG")
        original = buffer.getvalue()
        blob = blob_put(tenant_id=tenant.pk, kind="originals", data=original, image_format="png")
        asset = asset_create(
            tenant=tenant,
            title=f"Sneaker {index}",
            source="generated",
            collection=collection,
            tags=["sneakers", "summer"],
            locale="en-US",
        )
        version = asset_version_create(asset=asset, blob=blob, width=2048, height=2048, image_format="png")
        for spec, width, height, image_format in RENDITIONS:
            # Distinct bytes per rendition (content addressing); the benchmark never fetches them.
            stored = blob_put(
                tenant_id=tenant.pk, kind="renditions", data=original + spec.encode(), image_format=image_format
            )
            rendition_create(
                version=version,
                spec=spec,
                blob=stored,
                width=width,
                height=height,
                image_format=image_format,
                placement_slug=spec.removeprefix("placement:") if spec.startswith("placement:") else "",
            )
        AssetVersion.objects.for_tenant(tenant).filter(pk=version.pk).update(status=VersionStatus.APPROVED)
    return api_key_create(tenant=tenant, name="storefront", scopes=[Scope.ASSETS_READ]).token


def query_counts(token: str, sizes: tuple[int, ...] = (1, 24, 100, 200)) -> dict[int, int]:
    """Queries of one rendered (uncached) list page per page size: inside a transaction the
    caches step aside, so every count is the full render, authentication included."""
    from django.db import connection, transaction
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    client = Client(HTTP_AUTHORIZATION=f"Bearer {token}", HTTP_HOST="127.0.0.1")
    client.get("/api/v1/storefront/assets?page_size=1")  # the key's first use writes last_used_at
    counts = {}
    for size in sizes:
        with transaction.atomic(), CaptureQueriesContext(connection) as queries:
            response = client.get(f"/api/v1/storefront/assets?page_size={size}")
        assert response.status_code == 200 and len(response.json()["results"]) == size, response.content[:300]
        counts[size] = len(queries)
    return counts


def reference_matches(body: bytes, *, origin: str) -> bool:
    """Whether a list page the server answered (unsigned URLs under `origin`) is byte for byte what the reference
    answers for its assets: `storefront_asset_data` over model instances and `storefront_version_rows`, rendered by
    DRF's JSONRenderer (the list builds its page from rows instead: dam.api.storefront_page)."""
    from django.utils import timezone
    from rest_framework.renderers import JSONRenderer

    from dam.api.storefront import STOREFRONT_ASSET_FIELDS, storefront_asset_data
    from dam.selectors.storefront import UrlBuilder, storefront_assets, storefront_version_rows
    from tenants.models import Tenant

    page = json.loads(body)
    tenant = Tenant.objects.get(slug="bench-shop")
    urls = UrlBuilder(origin=origin, sign=False, now=timezone.now())
    results = []
    for item in page["results"]:
        asset = storefront_assets(tenant=tenant).only(*STOREFRONT_ASSET_FIELDS).get(pk=item["id"])
        rows = storefront_version_rows(tenant=tenant, ids=[asset.storefront_version_id])
        results.append(storefront_asset_data(asset, rows[asset.storefront_version_id], urls=urls))
    expected = JSONRenderer().render({"next": page["next"], "previous": page["previous"], "results": results})
    return expected == body


if __name__ == "__main__":
    django.setup()
    if sys.argv[1] == "--reference":
        with open(sys.argv[2], "rb") as answered:
            sys.exit(0 if reference_matches(answered.read(), origin=sys.argv[3]) else 1)
    if sys.argv[1] == "--queries":
        sizes = tuple(int(size) for size in sys.argv[3:])
        print(json.dumps(query_counts(sys.argv[2], *([sizes] if sizes else []))))
    else:
        print(seed(int(sys.argv[1])))
