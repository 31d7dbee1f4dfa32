"""Seeding of the data-scale benchmark (bench/data_scale.py): a realistic library of any size, fast.

Everything the figures read is rows, written by set-based SQL on the server (INSERT ... SELECT over
generate_series, in chunks of asset indexes, two connections at a time: one per CPU) with the foreign-key
triggers off (`session_replication_role = replica`: the rows are consistent by construction). Every column is a
deterministic function of the asset's index (`hashint8extended` as the dice), so the versions, renditions, ledger
entries and deliveries of an asset agree with it without reading it back. The blobs are four real tiny files per
kind: every row points at one of them (nothing here fetches bytes).

What one tenant of N assets holds (the big tenant; the 99 others get `SMALL_ASSETS` each, the same way):
- assets: titles of three words and prompts of a dozen, drawn zipf-like from word lists (full-text search has
  frequent and rare terms), 1-3 tags out of 40 (zipf), 8 markets (zipf), 50 collections (zipf, 10% none),
  85% generated (4 outputs per job: the family), a third carrying campaign placements, 2% archived, created
  evenly over two years (ids grow with time); `search_vector` written in the same INSERT by the selector's own
  weighting (A title, B tags and alt texts, C prompt, D locales; english and simple);
- versions: 1.5 per asset (every even index has an edit, v2, whose parent is v1): statuses 65% approved,
  15% published, 12% needs review, 5% rejected, 3% blocked (v1 of an edited asset is approved); half with an
  alt text; 0.1% with checks pending for a day (the checks sweep's backlog); 2% with a publish window;
- renditions: 5 per version (two placements, three widths) and a third placement on 30%: ~5.3 per version;
- a ledger charge per asset (at its creation, by one of 5 staff users or none, one of 20 keys, its collection),
  then the roll-ups by the ledger service (`daily_spend_rebuild`);
- a webhook delivery per asset to one of two endpoints: 99% succeeded, the rest failed, pending (some overdue)
  or sending (some with an expired lease): the webhook sweep's backlog;
- two audit events per asset in the tenant's hash chain, hashed by the writer's own functions
  (bench/audit_verify.py's `seed`: COPY), so `audit_verify` walks a valid chain.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

BIG_SLUG = "scale-big"
TENANTS = 100
SMALL_ASSETS = 100
COLLECTIONS = 50
STAFF_USERS = 5
CHUNK = 25_000  # assets per statement: a progress line every few seconds, short transactions
PARALLEL = 2  # connections seeding at once: one per CPU of the reference machine


def _words(text: str) -> list[str]:
    return text.split()


ADJECTIVES = _words(
    "summer winter bright classic urban vintage bold minimal cozy vivid golden rustic sleek playful "
    "elegant fresh sunny rainy misty tropical nordic retro modern organic metallic pastel neon soft "
    "dramatic calm festive autumn spring coastal alpine desert midnight velvet silver crimson"
)
NOUNS = _words(
    "sneaker jacket backpack watch sunglasses dress handbag boot hoodie scarf lamp chair sofa mug bottle "
    "headphones bicycle tent kettle perfume lipstick candle notebook camera helmet umbrella wallet sandal "
    "blanket teapot speaker keyboard rucksack jersey cap trainers parka loafer tote vase"
)
SCENES = _words(
    "beach studio street forest mountain kitchen cafe rooftop desert lake garden city market office "
    "harbour meadow snowfield boardwalk library vineyard skatepark subway canyon terrace marina orchard "
    "greenhouse stadium bakery balcony"
)
STYLES = _words("cinematic natural soft dramatic golden-hour overcast neon backlit high-key low-key")
COLOURS = _words("warm cool monochrome earthy pastel vibrant muted teal-orange black-white sepia")
TAGS = _words(
    "sneakers summer sale hero lifestyle product outdoor studio kids women men sport running winter new "
    "bestseller eco premium gift holiday travel home kitchen beauty accessories denim festival campaign "
    "social banner print email launch clearance limited wellness pets garden office school vintage"
)
MARKETS = ("en-US", "de-DE", "fr-FR", "ja-JP", "es-ES", "it-IT", "pt-BR", "nl-NL")
# (spec, placement slug, width, height, format): five on every version, the sixth on 30% of them.
RENDITIONS = (
    ("placement:pdp-square", "pdp-square", 1080, 1080, "webp"),
    ("placement:hero-wide", "hero-wide", 1920, 1080, "jpeg"),
    ("width-400", "", 400, 400, "webp"),
    ("width-800", "", 800, 800, "webp"),
    ("width-1600", "", 1600, 1600, "webp"),
    ("placement:story-vertical", "story-vertical", 1080, 1920, "jpeg"),
)
PLACEMENTS = (("pdp-square", 1080, 1080), ("hero-wide", 1920, 1080), ("story-vertical", 1080, 1920))


def _u(salt: int) -> str:
    """A uniform draw in [0, 1) from the asset index `i` (deterministic: the same in every table)."""
    return f"((abs(hashint8extended(i, {salt})) %% 1000003) / 1000003.0)"


def _zipf(array: str, salt: int, power: float = 2.5) -> str:
    """An element of a text[] parameter, the first ones far more often (u ** power)."""
    return f"(%({array})s::text[])[1 + floor(cardinality(%({array})s::text[]) * power({_u(salt)}, {power}))::int]"


# Columns derived from the asset index `i`, shared by the asset and version INSERTs so they agree.
DERIVED = f"""
    {_zipf("adjectives", 1, 1.8)} || ' ' || {_zipf("nouns", 2, 1.8)} || ' ' || {_zipf("scenes", 3, 1.8)} AS title,
    'A ' || {_zipf("adjectives", 4)} || ' ' || {_zipf("nouns", 2, 1.8)} || ' on a ' || {_zipf("scenes", 5)}
        || ', ' || {_zipf("styles", 6, 1.5)} || ' lighting, ' || {_zipf("colours", 7, 1.5)} || ' palette, '
        || {_zipf("adjectives", 8)} || ' mood' AS prompt,
    {_zipf("markets", 9, 3)} AS locale,
    {_u(10)} < 0.5 AS has_alt,
    {_u(11)} AS status_draw
"""
STATUS = """CASE WHEN {draw} < 0.65 THEN 'approved' WHEN {draw} < 0.80 THEN 'published'
    WHEN {draw} < 0.92 THEN 'needs_review' WHEN {draw} < 0.97 THEN 'rejected' ELSE 'blocked' END"""


@dataclass
class Layout:
    """Where one tenant's rows go: asset i (0-based) is asset `asset0 + i`, its first version `version0 + i`, the
    edit of an even index `version0 + n + i / 2` (so its current version is known without reading it)."""

    tenant_id: int
    n: int
    asset0: int
    version0: int
    collection_ids: list[int]
    user_ids: list[int]
    endpoint_ids: list[int]
    blobs: dict[str, list[tuple[str, str, int]]] = field(default_factory=dict)  # kind -> (key, sha256, size)

    @property
    def versions(self) -> int:
        return self.n + (self.n + 1) // 2


def _params(layout: Layout, lo: int, hi: int) -> dict:
    originals, renditions = layout.blobs["originals"], layout.blobs["renditions"]
    return {
        "tenant": layout.tenant_id,
        "n": layout.n,
        "lo": lo,
        "hi": hi,
        "asset0": layout.asset0,
        "version0": layout.version0,
        "adjectives": list(ADJECTIVES),
        "nouns": list(NOUNS),
        "scenes": list(SCENES),
        "styles": list(STYLES),
        "colours": list(COLOURS),
        "tags": list(TAGS),
        "markets": list(MARKETS),
        "collections": layout.collection_ids,
        "users": layout.user_ids,
        "endpoints": layout.endpoint_ids,
        "okeys": [key for key, _, _ in originals],
        "oshas": [sha for _, sha, _ in originals],
        "rkeys": [key for key, _, _ in renditions],
        "rshas": [sha for _, sha, _ in renditions],
        "placement_slugs": [slug for slug, _, _ in PLACEMENTS],
    }


_CREATED = "now() - interval '730 days' + (i::float / %(n)s) * interval '729 days'"

VERSIONS_SQL = f"""
INSERT INTO dam_assetversion (
    id, tenant_id, asset_id, number, parent_id, status, storage_key, sha256, width, height, format, file_size,
    job_id, provider_request_id, output_index, compiled_prompt, model, deployment, size_plan, locale, usage,
    created_at, created_by_id, safety_verdicts, alt_text, digital_source_type, source_sha256, approve_when_checked,
    checks_state, checks_summary, expected_copy, brand_policy_version, safety_config_version)
SELECT v.id, %(tenant)s, %(asset0)s + i, v.number, v.parent, v.status,
       (%(okeys)s::text[])[1 + i %% 4], (%(oshas)s::text[])[1 + i %% 4], 2048, 2048, 'png', 48213,
       CASE WHEN v.number = 1 AND {_u(12)} < 0.85 THEN %(tenant)s * 10000000 + i / 4 END,
       CASE WHEN v.number = 1 THEN 'req-' || %(tenant)s || '-' || i ELSE '' END, i %% 4,
       d.prompt, 'gpt-image-2', '', '{{}}'::jsonb, d.locale, '{{}}'::jsonb,
       CASE WHEN v.stale_check THEN now() - interval '1 day' ELSE {_CREATED} + (v.number - 1) * interval '3 hours'
       END,
       (%(users)s::int[])[1 + i %% cardinality(%(users)s::int[])], '[]'::jsonb,
       CASE WHEN d.has_alt THEN jsonb_build_object(d.locale, 'Photo: ' || d.title) ELSE '{{}}'::jsonb END,
       '', '', false, CASE WHEN v.stale_check THEN 'pending' ELSE 'done' END, '{{}}'::jsonb, '', 3, 2
FROM (SELECT i, {DERIVED} FROM generate_series(%(lo)s, %(hi)s - 1) AS i) AS d
CROSS JOIN LATERAL (
    SELECT %(version0)s + i AS id, 1 AS number, NULL::bigint AS parent,
           CASE WHEN i %% 2 = 0 THEN 'approved' ELSE {STATUS.format(draw="d.status_draw")} END AS status,
           i %% 2 = 1 AND {_u(13)} < 0.001 AS stale_check
    UNION ALL
    SELECT %(version0)s + %(n)s + i / 2, 2, %(version0)s + i, {STATUS.format(draw="d.status_draw")},
           {_u(13)} < 0.001
    WHERE i %% 2 = 0
) AS v
"""

ASSETS_SQL = f"""
INSERT INTO dam_asset (
    id, tenant_id, title, tags, family, source, locale, created_at, updated_at, current_version_id, collection_id,
    search_vector, campaign_id, creative, placements, archived_at)
SELECT %(asset0)s + i, %(tenant)s, d.title, tags, family, source, d.locale, created, created,
       CASE WHEN i %% 2 = 0 THEN %(version0)s + %(n)s + i / 2 ELSE %(version0)s + i END,
       CASE WHEN {_u(14)} < 0.9 THEN (%(collections)s::bigint[])[1 + floor(
           cardinality(%(collections)s::bigint[]) * power({_u(15)}, 2))::int] END,
       setweight(to_tsvector('english', d.title), 'A') || setweight(to_tsvector('simple', d.title), 'A')
       || setweight(to_tsvector('english', b), 'B') || setweight(to_tsvector('simple', b), 'B')
       || setweight(to_tsvector('english', d.prompt), 'C') || setweight(to_tsvector('simple', d.prompt), 'C')
       || setweight(to_tsvector('english', dl), 'D') || setweight(to_tsvector('simple', dl), 'D'),
       CASE WHEN campaign THEN %(tenant)s * 1000 + i %% 40 END, CASE WHEN campaign THEN 'creative-' || i %% 3 ELSE ''
       END,
       CASE WHEN campaign THEN (%(placement_slugs)s::text[])[1:1 + i %% 3] ELSE '{{}}'::text[] END,
       CASE WHEN {_u(16)} < 0.02 THEN created + interval '30 days' END
FROM (
    SELECT d.*, t.tags, {_CREATED} AS created,
           array_to_string(tags, ' ') || CASE WHEN d.has_alt THEN ' Photo: ' || d.title ELSE '' END AS b,
           d.locale || CASE WHEN d.has_alt THEN ' ' || d.locale || ' ' || d.locale ELSE ' ' || d.locale END AS dl,
           CASE WHEN {_u(12)} < 0.85 THEN 'job-' || (%(tenant)s * 10000000 + i / 4) ELSE '' END AS family,
           CASE WHEN {_u(12)} < 0.85 THEN 'generated' ELSE 'uploaded' END AS source,
           {_u(17)} < 0.33 AS campaign
    FROM (SELECT i, {DERIVED} FROM generate_series(%(lo)s, %(hi)s - 1) AS i) AS d
    CROSS JOIN LATERAL (
        SELECT ARRAY(SELECT DISTINCT (%(tags)s::text[])[1 + floor(cardinality(%(tags)s::text[]) * power(
                         (abs(hashint8extended(i * 8 + k, 18)) %% 1000003) / 1000003.0, 2.5))::int]
                     FROM generate_series(1, 1 + i %% 3) AS k) AS tags
    ) AS t
) AS d
"""

RENDITIONS_SQL = """
INSERT INTO dam_rendition (tenant_id, version_id, spec, placement_slug, storage_key, sha256, width, height, format,
                           file_size, created_at)
SELECT %(tenant)s, v.id, r.spec, r.slug, (%(rkeys)s::text[])[1 + (v.id + r.n) %% 4],
       (%(rshas)s::text[])[1 + (v.id + r.n) %% 4], r.width, r.height, r.format, 20000 + r.width * 10, v.created_at
FROM dam_assetversion AS v
JOIN (VALUES {values}) AS r(n, spec, slug, width, height, format)
  ON r.n < 5 OR abs(hashint8extended(v.id, 19)) %% 10 < 3
WHERE v.tenant_id = %(tenant)s AND v.asset_id >= %(asset0)s + %(lo)s AND v.asset_id < %(asset0)s + %(hi)s
""".format(
    values=", ".join(
        f"({n}, '{spec}', '{slug}', {width}, {height}, '{image_format}')"
        for n, (spec, slug, width, height, image_format) in enumerate(RENDITIONS)
    )
)

WINDOWS_SQL = f"""
INSERT INTO dam_publishwindow (tenant_id, version_id, available_from, available_until, updated_at)
SELECT %(tenant)s, %(version0)s + i, now() - interval '60 days',
       CASE WHEN {_u(20)} < 0.25 THEN now() - interval '1 day' ELSE now() + interval '90 days' END, now()
FROM generate_series(%(lo)s, %(hi)s - 1) AS i
WHERE i %% 2 = 1 AND {_u(21)} < 0.02
"""

LEDGER_SQL = f"""
INSERT INTO governance_ledgerentry (
    tenant_id, kind, amount_usd, job_id, api_key_id, user_id, collection_id, provider_request_id, model,
    deployment_tier, size, quality, operation, images, text_input_tokens, cached_text_input_tokens,
    image_input_tokens, cached_image_input_tokens, output_tokens, usage_estimated, breakdown, note,
    occurred_at, day, period, created_at)
SELECT %(tenant)s, 'charge', (s.output * 30 + s.text * 5)::numeric / 1000000, a.id, 1 + i %% 20,
       CASE WHEN {_u(22)} < 0.3 THEN NULL ELSE (%(users)s::int[])[1 + i %% cardinality(%(users)s::int[])] END,
       a.collection_id, 'bench-' || %(tenant)s || '-' || i, 'gpt-image-2', 'standard-global', s.size, 'high',
       'generate', 1, s.text, 0, 0, 0, s.output, false, '{{}}'::jsonb, '', a.created_at,
       (a.created_at AT TIME ZONE %(zone)s)::date, date_trunc('month', a.created_at AT TIME ZONE %(zone)s)::date,
       a.created_at
FROM (SELECT i, 100 + i %% 400 AS text, (ARRAY[7024, 5488, 8592, 10976, 272])[1 + i %% 5] AS output,
             (ARRAY['1024x1024', '1536x1024', '2048x2048', '3840x2160', '1024x1024'])[1 + i %% 5] AS size
      FROM generate_series(%(lo)s, %(hi)s - 1) AS i) AS s
JOIN dam_asset AS a ON a.id = %(asset0)s + s.i
"""

DELIVERIES_SQL = f"""
INSERT INTO dam_webhookdelivery (
    tenant_id, endpoint_id, event, event_id, payload, status, attempts, next_attempt_at, lease_until,
    last_status_code, last_error, delivered_at, created_at)
SELECT %(tenant)s, (%(endpoints)s::bigint[])[1 + i %% cardinality(%(endpoints)s::bigint[])],
       'asset.version_created', md5(%(tenant)s || '-' || i)::uuid,
       jsonb_build_object('asset', %(asset0)s + i, 'version', %(version0)s + i), d.status,
       CASE d.status WHEN 'succeeded' THEN 1 WHEN 'failed' THEN 8 ELSE 2 END,
       CASE WHEN d.status = 'pending' AND {_u(24)} < 0.5 THEN now() - interval '10 minutes'
            ELSE {_CREATED} + interval '1 minute' END,
       CASE WHEN d.status = 'sending' THEN
           CASE WHEN {_u(24)} < 0.5 THEN now() - interval '5 minutes' ELSE now() + interval '5 minutes' END END,
       CASE d.status WHEN 'succeeded' THEN 200 WHEN 'failed' THEN 503 END,
       CASE d.status WHEN 'failed' THEN 'HTTP 503' ELSE '' END,
       CASE WHEN d.status = 'succeeded' THEN {_CREATED} + interval '1 minute' END, {_CREATED}
FROM (SELECT i, CASE WHEN {_u(23)} < 0.99 THEN 'succeeded' WHEN {_u(23)} < 0.995 THEN 'failed'
                     WHEN {_u(23)} < 0.998 THEN 'pending' ELSE 'sending' END AS status
      FROM generate_series(%(lo)s, %(hi)s - 1) AS i) AS d
"""

# In dependency order: the assets' search vectors and the renditions read nothing of other tables but
# the versions (renditions) and the assets (ledger).
STEPS: tuple[tuple[str, str, Callable[[Layout], int]], ...] = (
    ("versions", VERSIONS_SQL, lambda layout: layout.versions),
    ("assets", ASSETS_SQL, lambda layout: layout.n),
    ("renditions", RENDITIONS_SQL, lambda layout: round(layout.versions * 5.3)),
    ("publish windows", WINDOWS_SQL, lambda layout: layout.n // 100),
    ("ledger entries", LEDGER_SQL, lambda layout: layout.n),
    ("webhook deliveries", DELIVERIES_SQL, lambda layout: layout.n),
)


def _connect(database_url: str):
    import psycopg

    connection = psycopg.connect(database_url, autocommit=True)
    # Consistent by construction: no foreign-key triggers per row (the server's superuser, as in the bench).
    connection.execute("SET session_replication_role = replica")
    connection.execute("SET synchronous_commit = off")
    return connection


def run_steps(database_url: str, layouts: list[Layout], *, zone: str, log: Callable[[str], None]) -> dict:
    """Every step over every tenant's layout, in chunks, PARALLEL connections at once; rows and seconds per step."""
    local = threading.local()
    connections = []
    lock = threading.Lock()

    def execute(sql: str, params: dict) -> int:
        if not hasattr(local, "connection"):
            local.connection = _connect(database_url)
            with lock:
                connections.append(local.connection)
        cursor = local.connection.execute(sql, params)
        return cursor.rowcount

    timings = {}
    try:
        with ThreadPoolExecutor(PARALLEL) as pool:
            for name, sql, _expected in STEPS:
                started, rows = time.perf_counter(), 0
                jobs = [
                    (layout, lo, min(layout.n, lo + CHUNK)) for layout in layouts for lo in range(0, layout.n, CHUNK)
                ]
                futures = [
                    pool.submit(execute, sql, {**_params(layout, lo, hi), "zone": zone}) for layout, lo, hi in jobs
                ]
                said = started
                for done, future in enumerate(futures, 1):
                    rows += future.result()
                    now = time.perf_counter()
                    if now - said > 5 or done == len(futures):  # a line every 5 s, and the step's total
                        said = now
                        pace = rows / max(now - started, 1e-9)
                        log(f"   {name}: {rows:,} rows ({pace:,.0f} rows/s), {done}/{len(jobs)} chunks")
                timings[name] = (rows, time.perf_counter() - started)
    finally:
        for connection in connections:
            connection.close()
    return timings


@dataclass
class Seeded:
    tenant_id: int
    token: str  # an `assets:read` key of the big tenant: the storefront
    staff_username: str  # an admin of the big tenant: the browser and the review board
    timings: dict[str, tuple[int, float]]


def _tiny_png(colour: tuple[int, int, int]) -> bytes:
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (16, 16), colour).save(buffer, format="PNG")
    return buffer.getvalue()


def _tenant_rows(tenant, *, index: int, log: Callable[[str], None]) -> Layout:
    """The service-made rows of one tenant (collections, placements, staff, endpoints, blobs): few, so through
    the services and the ORM as production makes them."""
    from django.contrib.auth import get_user_model

    from dam.blobs import blob_put
    from dam.models import Collection, WebhookEndpoint
    from dam.webhooks.secrets import encrypt_signing_secret, new_signing_secret
    from tenants.models import Role
    from tenants.services import membership_set, placement_create

    big = tenant.slug == BIG_SLUG
    collections = Collection.objects.for_tenant(tenant).bulk_create(
        [
            Collection(tenant=tenant, slug=f"campaign-{n:02d}", name=f"Campaign {n:02d}")
            for n in range(COLLECTIONS if big else 3)
        ]
    )
    for slug, width, height in PLACEMENTS:
        placement_create(tenant=tenant, slug=slug, width=width, height=height, output_format="jpeg")
    users = []
    for n in range(STAFF_USERS if big else 1):
        user = get_user_model().objects.create_user(username=f"{tenant.slug}-staff-{n}", is_staff=True)
        membership_set(tenant=tenant, user=user, role=Role.ADMIN if n == 0 else Role.EDITOR)
        users.append(user.pk)
    endpoints = WebhookEndpoint.objects.for_tenant(tenant).bulk_create(
        [
            WebhookEndpoint(
                tenant=tenant,
                url=f"https://hooks.example.com/{tenant.slug}/{n}",
                events=["asset.version_created", "asset.approved"],
                secret_encrypted=encrypt_signing_secret(new_signing_secret()),
            )
            for n in range(2)
        ]
    )
    blobs = {
        kind: [
            (stored.key, stored.sha256, stored.size)
            for stored in (
                blob_put(tenant_id=tenant.pk, kind=kind, data=_tiny_png((n * 40, index % 256, 90)), image_format="png")
                for n in range(4)
            )
        ]
        for kind in ("originals", "renditions")
    }
    return Layout(
        tenant_id=tenant.pk,
        n=0,
        asset0=0,
        version0=0,
        collection_ids=[c.pk for c in collections],
        user_ids=users,
        endpoint_ids=[e.pk for e in endpoints],
        blobs=blobs,
    )


SEQUENCED = (
    "dam_asset",
    "dam_assetversion",
    "dam_rendition",
    "dam_publishwindow",
    "governance_ledgerentry",
    "dam_webhookdelivery",
)
ANALYZED = (*SEQUENCED, "governance_dailyspend", "governance_auditevent", "dam_collection")


def seed(*, database_url: str, assets: int, log: Callable[[str], None]) -> Seeded:
    """The whole dataset: 100 tenants, the big one with `assets` assets (see the module's docstring)."""
    from django.db import connection

    from bench.audit_verify import seed as audit_seed
    from governance.services.ledger import daily_spend_rebuild
    from tenants.models import Scope, Tenant
    from tenants.services import api_key_create, tenant_create

    timings: dict[str, tuple[int, float]] = {}
    started = time.perf_counter()
    layouts = []
    big = None
    for index in range(TENANTS):
        slug = BIG_SLUG if index == 0 else f"scale-small-{index:02d}"
        tenant = tenant_create(slug=slug, name=slug.replace("-", " ").title(), time_zone="UTC")
        big = big or tenant
        layout = _tenant_rows(tenant, index=index, log=log)
        layout.n = assets if index == 0 else SMALL_ASSETS
        layouts.append(layout)
    token = api_key_create(tenant=big, name="storefront", scopes=[Scope.ASSETS_READ]).token
    with connection.cursor() as cursor:
        cursor.execute("SELECT coalesce(max(id), 0) FROM dam_asset")
        asset0 = cursor.fetchone()[0] + 1
        cursor.execute("SELECT coalesce(max(id), 0) FROM dam_assetversion")
        version0 = cursor.fetchone()[0] + 1
    for layout in layouts:
        layout.asset0, layout.version0 = asset0, version0
        asset0 += layout.n
        version0 += layout.versions
    timings["tenants, staff, collections, blobs"] = (TENANTS, time.perf_counter() - started)
    seconds = time.perf_counter() - started
    log(f"   {TENANTS} tenants with their staff, collections, placements and blobs in {seconds:.1f} s")

    timings.update(run_steps(database_url, layouts, zone="UTC", log=log))

    started = time.perf_counter()
    with connection.cursor() as cursor:
        for table in SEQUENCED:
            cursor.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT coalesce(max(id), 1) FROM {table}))"
            )
    for layout in layouts:
        daily_spend_rebuild(tenant=Tenant.objects.get(pk=layout.tenant_id))
    timings["daily spend roll-ups"] = (len(layouts), time.perf_counter() - started)
    log(f"   daily spend roll-ups of {len(layouts)} tenants in {time.perf_counter() - started:.1f} s")

    events = 2 * assets
    seconds = audit_seed(big.pk, events)
    timings["audit events"] = (events, seconds)
    log(f"   audit events: {events:,} hashed and copied in {seconds:.1f} s ({events / seconds:,.0f}/s)")

    started = time.perf_counter()
    with connection.cursor() as cursor:
        for table in ANALYZED:  # the visibility map too: index-only scans as a settled database has them
            cursor.execute(f"VACUUM (ANALYZE) {table}")
    timings["vacuum analyze"] = (len(ANALYZED), time.perf_counter() - started)
    log(f"   VACUUM (ANALYZE) in {time.perf_counter() - started:.1f} s")
    return Seeded(tenant_id=big.pk, token=token, staff_username=f"{BIG_SLUG}-staff-0", timings=timings)


def seeded(*, assets: int, log: Callable[[str], None]) -> Seeded | None:
    """The dataset a kept database already holds (`--reuse`), or None; an interrupted seeding stops before its
    audit events (the last step but the VACUUM), so a chain that short is not a dataset."""
    from governance.models import AuditChainHead
    from tenants.models import Scope, Tenant
    from tenants.services import api_key_create

    tenant = Tenant.objects.filter(slug=BIG_SLUG).first()
    head = AuditChainHead.objects.filter(tenant=tenant).first() if tenant else None
    if head is None or head.seq < 2 * assets:
        if tenant is not None:
            raise SystemExit("the kept database holds an interrupted seeding: drop it (DROP DATABASE) and run again")
        return None
    token = api_key_create(tenant=tenant, name="storefront (reuse)", scopes=[Scope.ASSETS_READ]).token
    log(f"   reusing the seeded database (tenant {BIG_SLUG})")
    return Seeded(tenant_id=tenant.pk, token=token, staff_username=f"{BIG_SLUG}-staff-0", timings={})
