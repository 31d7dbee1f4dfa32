"""The figures of the data-scale benchmark (bench/data_scale.py) for one seeded size, in this process.

Each figure is a request through the whole Django stack (the test client: middleware, authentication, the view,
its queries, the JSON or the template) or a selector call, timed `repeat` times after a warm-up (at most
BUDGET_SECONDS of runs). For each: p50, p95, requests/s (1 / mean), its SQL statements (one more request, captured
with an execute wrapper) and, for every SELECT, the EXPLAIN (ANALYZE, BUFFERS) of its custom plan and of its
generic plan (what a prepared statement may run), written to `artifacts/data_scale/<size>/<figure>.txt`. The main
query is the costliest as the app runs it: pg_prepared_statements says whether PostgreSQL runs it generic.

Storefront lists are never cached: each request carries a query string never seen before (`&request=<n>`), as in
bench/storefront.py, so the per-process page cache misses and every request renders; `baseline` is the in-memory
view of bench/storefront_app.py answering the first page's bytes, through the same client.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from bench.figures import percentile

LIST = "/api/v1/storefront/assets?page_size=24"
SEARCH_TERMS = {  # by how common they are in the seeded titles and prompts (zipf-like word lists)
    "search 1 term (common)": "summer",
    "search 1 term (rare)": "velvet",
    "search 2 terms": "summer sneaker",
    "search 3 terms": "bright jacket beach",
}


@dataclass
class Figure:
    name: str
    kind: str  # storefront | baseline | search | page | report | backlog | audit
    p50_ms: float
    p95_ms: float
    rps: float
    queries: int
    main_ms: float | None = None  # the main query's execution time in its EXPLAIN ANALYZE
    plan_top: str = ""  # the first node of that plan
    extra: dict = field(default_factory=dict)


@dataclass
class Context:
    size: int
    tenant_id: int
    token: str
    staff_username: str
    repeat: int
    plans_dir: Path
    verbose: bool
    figures: list[Figure] = field(default_factory=list)
    paths: dict[str, str] = field(default_factory=dict)  # storefront paths measured again over HTTP
    first_page: bytes = b""


@dataclass
class Statement:
    sql: str  # as Django sent it, with %s placeholders
    params: tuple
    text: str = ""  # the same with its values in (runnable as is)
    prepared: str = ""  # "generic" or "custom": the plan PostgreSQL runs it with on the app's connection, if prepared
    custom_plan: str = ""
    custom_ms: float | None = None
    generic_plan: str = ""
    generic_ms: float | None = None

    @property
    def ms(self) -> float:
        """What it costs as the app runs it: the generic plan's time when PostgreSQL chose that plan."""
        chosen = self.generic_ms if self.prepared == "generic" else self.custom_ms
        return chosen or 0.0

    @property
    def plan(self) -> str:
        return self.generic_plan if self.prepared == "generic" else self.custom_plan


def _execution_ms(plan: str) -> float | None:
    match = re.search(r"Execution Time: ([\d.]+) ms", plan)
    return float(match.group(1)) if match else None


def _placeholders(sql: str) -> str:
    """Django's SQL as psycopg sends it with server-side binding: %s -> $1, $2..., %% -> %."""
    count = iter(range(1, 10_000))
    return re.sub(r"%(s|%)", lambda m: f"${next(count)}" if m.group(1) == "s" else "%", sql)


def _explain(statement: Statement) -> None:
    """The statement's plan both ways: custom (planned for its values, as EXPLAIN of the text gives it) and generic
    (planned once for any values, as a statement prepared on the connection may be run: the settings prepare
    statements run DB_PREPARE_THRESHOLD times, and PostgreSQL then picks the generic plan when its estimate is not
    worse)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (ANALYZE, BUFFERS) {statement.text}")
        statement.custom_plan = "\n".join(row[0] for row in cursor.fetchall())
        statement.custom_ms = _execution_ms(statement.custom_plan)
        if not statement.params:
            return
        values = connection.ops.compose_sql(", ".join(["%s"] * len(statement.params)), statement.params)
        cursor.execute(f"PREPARE bench_generic AS {_placeholders(statement.sql)}")
        try:
            cursor.execute("SET plan_cache_mode = force_generic_plan")
            cursor.execute(f"EXPLAIN (ANALYZE, BUFFERS) EXECUTE bench_generic({values})")
            statement.generic_plan = "\n".join(row[0] for row in cursor.fetchall())
            statement.generic_ms = _execution_ms(statement.generic_plan)
        finally:
            cursor.execute("RESET plan_cache_mode")
            cursor.execute("DEALLOCATE bench_generic")


def _record(ctx: Context, name: str, kind: str, samples: list[float], captured: list[Statement], **extra) -> Figure:
    """Keep a figure: its timing, its queries and their plans. The main query is the one that costs most as the app
    runs it (EXPLAIN ANALYZE of the plan PostgreSQL chose for it: see `_explain`)."""
    explained = [s for s in captured if s.sql.lstrip().upper().startswith(("SELECT", "WITH"))]
    for statement in explained:
        _explain(statement)
    main = max(explained, key=lambda s: s.ms, default=None)
    plan = main.plan if main else ""
    top = plan.splitlines()[0].split("  (")[0].strip() if plan else ""
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
    ctx.plans_dir.mkdir(parents=True, exist_ok=True)

    def both(s: Statement) -> str:
        generic = f"\n-- generic plan: {s.generic_ms} ms\n{s.generic_plan}" if s.generic_plan else ""
        return (
            f"-- prepared: {s.prepared or 'no'}\n{s.text}\n-- custom plan: {s.custom_ms} ms\n{s.custom_plan}{generic}"
        )

    (ctx.plans_dir / f"{slug}.txt").write_text(
        f"{name} at {ctx.size:,} assets: {len(captured)} queries\n\n== main query "
        f"({main.prepared or 'not prepared' if main else ''}) ==\n{main.text if main else ''}\n\n"
        f"== EXPLAIN (ANALYZE, BUFFERS) of the plan it runs with ==\n{plan}\n\n"
        f"== every SELECT, its plans ==\n"
        + "\n\n".join(both(s) for s in explained)
        + "\n\n== every statement ==\n"
        + "\n".join(s.text[:300] for s in captured)
        + "\n"
    )
    if ctx.verbose and plan:
        print(f"\n--- {name}: main query ({main.prepared or 'not prepared'}) ---\n{main.text}\n{plan}\n", flush=True)
    mean = statistics.fmean(samples)
    # The reads: a staff request may also write its session (the idle timeout's refresh, by the clock, not the size).
    extra = {"samples": len(samples), "reads": len(explained), **extra}
    figure = Figure(
        name=name,
        kind=kind,
        p50_ms=percentile(samples, 50) * 1000,
        p95_ms=percentile(samples, 95) * 1000,
        rps=1 / mean if mean else 0.0,
        queries=len(captured),
        main_ms=main.ms if main else None,
        plan_top=(top + (" (generic)" if main and main.prepared == "generic" else "")) if top else "",
        extra=extra,
    )
    ctx.figures.append(figure)
    return figure


# A figure's timed runs stop after this long (at least MIN_SAMPLES): a page of seconds at 1M assets is measured a
# few times, not `repeat` times. Its statements are then prepared later than a fast figure's (psycopg prepares a
# statement at its 5th run on a connection, PostgreSQL may choose a generic plan from the 6th execution of that).
BUDGET_SECONDS = 20.0
MIN_SAMPLES = 3


def _timed(ctx: Context, call: Callable[[int], object], *, repeat: int | None = None) -> list[float]:
    for n in range(2):  # warm-up: plans, caches, imports
        call(-1 - n)
    samples: list[float] = []
    deadline = time.monotonic() + BUDGET_SECONDS
    for n in range(repeat or ctx.repeat):
        if len(samples) >= MIN_SAMPLES and time.monotonic() > deadline:
            break
        started = time.perf_counter()
        call(n)
        samples.append(time.perf_counter() - started)
    return samples


def _captured(call: Callable[[], object]) -> list[Statement]:
    """Every statement `call` runs (after the timed runs: the app's connection has prepared what it repeats), with
    the plan PostgreSQL keeps for it on that connection (pg_prepared_statements: generic or custom)."""
    from django.db import connection

    statements: list[Statement] = []

    def capture(execute, sql, params, many, context):
        statements.append(Statement(sql=sql, params=tuple(params or ())))
        return execute(sql, params, many, context)

    with connection.execute_wrapper(capture):
        call()
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement, generic_plans, custom_plans FROM pg_prepared_statements")
        prepared = {text: "generic" if generic else "custom" for text, generic, _ in cursor.fetchall()}
    for statement in statements:
        statement.text = (
            connection.ops.compose_sql(statement.sql, statement.params) if statement.params else statement.sql
        )
        statement.prepared = prepared.get(_placeholders(statement.sql), "")
    return statements


def _get(client, path: str, *, expect: int = 200):
    response = client.get(path)
    if response.status_code != expect:
        raise RuntimeError(f"GET {path}: HTTP {response.status_code}: {response.content[:300]!r}")
    return response


def _fresh(path: str, n: int) -> str:
    """The path under a query string no request has used: the page cache cannot answer it."""
    return f"{path}{'&' if '?' in path else '?'}request={time.monotonic_ns()}-{n}"


def _page_figure(ctx: Context, client, name: str, path: str, *, kind: str, results: int | None = 24) -> Figure:
    body = _get(client, _fresh(path, 0))
    if results is not None:
        shown = len(body.json()["results"]) if "results" in body.json() else 1
        if shown != results:
            raise RuntimeError(f"{name}: {shown} results, expected {results} (seeding?)")
    samples = _timed(ctx, lambda n: _get(client, _fresh(path, n)))
    return _record(ctx, name, kind, samples, _captured(lambda: _get(client, _fresh(path, 99))))


def storefront(ctx: Context) -> None:
    from django.test import Client

    from bench import storefront_app
    from dam.models import Asset, Collection
    from tenants.api.pagination import StableCursorPagination

    client = Client(HTTP_AUTHORIZATION=f"Bearer {ctx.token}", HTTP_HOST="127.0.0.1", HTTP_ACCEPT="application/json")
    _get(client, LIST + "&page_size=1")  # the key's first use writes last_used_at
    first = _get(client, _fresh(LIST, 0)).content
    storefront_app._BODY = ctx.first_page = first  # the baseline answers exactly these bytes, from memory
    baseline = _get(client, "/bench/baseline").content
    if baseline != first:
        raise RuntimeError("the baseline view does not answer the first page's bytes")
    samples = _timed(ctx, lambda n: _get(client, "/bench/baseline"))
    _record(ctx, "baseline: the same JSON from memory", "baseline", samples, [])

    _page_figure(ctx, client, "storefront: first page", LIST, kind="storefront")
    assets = Asset.objects.for_tenant(ctx.tenant_id)
    # A cursor 90% of the way down (an old asset): keyset pagination should make it cost what page 1 costs.
    ids = assets.filter(archived_at__isnull=True).order_by("id").values_list("id", flat=True)
    deep_id = ids[max(0, int(ids.count() * 0.1))]
    paginator = StableCursorPagination()
    paginator.base_url = f"http://127.0.0.1{LIST}"
    from rest_framework.pagination import Cursor

    deep = paginator.encode_cursor(Cursor(offset=0, reverse=False, position=str(deep_id)))
    deep = deep.removeprefix("http://127.0.0.1")
    _page_figure(ctx, client, "storefront: deep cursor page (90%)", deep, kind="storefront")
    ctx.paths.update({"first page": LIST, "deep cursor page (90%)": deep, "search 1 term (common)": f"{LIST}&q=summer"})

    collection = Collection.objects.for_tenant(ctx.tenant_id).order_by("slug")[10].slug  # a mid-size one
    middle = dt.date.today() - dt.timedelta(days=365)
    filters = {
        "collection": f"collection={collection}",
        "tag (common)": "tag=sale",
        "tag (rare)": "tag=vintage",
        "locale": "locale=ja-JP",
        "placement": "placement=story-vertical",
        "created between": f"created_after={middle - dt.timedelta(days=30)}&created_before={middle}",
    }
    for label, query in filters.items():
        _page_figure(ctx, client, f"storefront: filter {label}", f"{LIST}&{query}", kind="storefront", results=None)
    for label, term in SEARCH_TERMS.items():
        _page_figure(ctx, client, f"storefront: {label}", f"{LIST}&q={term}", kind="search", results=None)
    asset_id = ids[max(0, int(ids.count() * 0.5))]
    shown = Asset.objects.for_tenant(ctx.tenant_id).filter(pk__gte=asset_id, current_version__status="approved")
    detail = f"/api/v1/storefront/assets/{shown.order_by('id').values_list('id', flat=True).first()}"
    _page_figure(ctx, client, "storefront: asset detail", detail, kind="storefront", results=None)


def staff_pages(ctx: Context) -> None:
    from django.contrib.auth import get_user_model
    from django.test import Client

    staff = Client(HTTP_HOST="127.0.0.1")
    staff.force_login(get_user_model().objects.get(username=ctx.staff_username))
    # The UI's search page is a staff page (judged as one: <= 150 ms, constant reads); the search target
    # (p95 <= 50 ms for 1-3 terms, ranked) is the ranked search the page runs, measured apart below.
    pages = (
        ("UI: asset browser", "/admin/dam/asset/", "page"),
        ("UI: asset browser, collection filter", "/admin/dam/asset/?collection=campaign-10", "page"),
        ("UI: search (ranked)", "/admin/dam/asset/?q=summer+sneaker", "page"),
        ("UI: review board", "/admin/governance/review/", "page"),
    )
    for name, path, kind in pages:
        _get(staff, path)
        samples = _timed(ctx, lambda n, path=path: _get(staff, path))
        _record(ctx, name, kind, samples, _captured(lambda path=path: _get(staff, path)))
    ranked_search(ctx)


def ranked_search(ctx: Context) -> None:
    """The ranked search as the UI's best-match list runs it, for 1-3 terms: its count (up to SEARCH_COUNT_CAP,
    with the newest candidates) and its first page of 48 (the best of the ranked candidates), through the library's
    selectors."""
    from dam.models import Asset
    from dam.selectors.search import AssetFilters, assets_filter, assets_matches_counted, assets_ranked

    for label, term in SEARCH_TERMS.items():
        matches = assets_filter(Asset.objects.for_tenant(ctx.tenant_id), AssetFilters(q=term, archived="false"))

        def call(n: int = 0, matches=matches, term=term) -> None:
            counted = assets_matches_counted(matches)
            list(assets_ranked(matches, q=term, newest=counted.newest)[:48])  # (a smoke size may match none)

        _record(ctx, f"search (ranked): {label.removeprefix('search ')}", "search", _timed(ctx, call), _captured(call))


def reports(ctx: Context) -> None:
    from governance.selectors.reports import spend_report
    from tenants.models import Tenant

    tenant = Tenant.objects.get(pk=ctx.tenant_id)
    today = dt.date.today()
    year = {"start": today - dt.timedelta(days=365), "end": today}
    month = {"start": today - dt.timedelta(days=30), "end": today}
    for label, group_by, window in (
        ("by user, one year", "user", year),
        ("by collection, one year", "collection", year),
        ("by API key, one year", "api_key", year),
        ("by day, one month", "day", month),
    ):

        def call(n: int = 0, group_by=group_by, window=window) -> None:
            rows = spend_report(tenant=tenant, group_by=group_by, **window)
            if not rows:
                raise RuntimeError(f"spend report {group_by}: no rows (seeding?)")

        _record(ctx, f"spend report {label}", "report", _timed(ctx, call), _captured(call))


def backlogs(ctx: Context) -> None:
    from dam.services.checks import version_checks_stale
    from dam.services.webhooks import webhook_deliveries_due

    for name, function in (
        ("backlog: webhook deliveries due (sweep)", webhook_deliveries_due),
        ("backlog: versions with stale checks (renditions sweep)", version_checks_stale),
    ):

        def call(n: int = 0, name=name, function=function) -> None:
            if not function():
                raise RuntimeError(f"{name}: empty (seeding?)")

        _record(ctx, name, "backlog", _timed(ctx, call), _captured(call))


def audit(ctx: Context) -> None:
    from governance.services.audit import audit_verify

    report = None

    def call(n: int = 0) -> None:
        nonlocal report
        report = audit_verify(tenant=ctx.tenant_id)
        if not report.ok:
            raise RuntimeError(f"audit_verify: {report.first_break}")

    started = time.perf_counter()
    call()
    seconds = time.perf_counter() - started
    events = report.events
    ctx.figures.append(
        Figure(
            name="audit_verify, full walk",
            kind="audit",
            p50_ms=seconds * 1000,
            p95_ms=seconds * 1000,
            rps=events / seconds,
            queries=0,
            extra={"events": events},
        )
    )


def measure_all(ctx: Context, *, only: set[str]) -> list[dict]:
    """The figures of the steps named in `only` (STEPS' keys), in this order."""
    for name, step in STEPS.items():
        if name not in only:
            continue
        started = time.perf_counter()
        step(ctx)
        print(f"   measured {name} in {time.perf_counter() - started:.1f} s", flush=True)
    return [asdict(figure) for figure in ctx.figures]


STEPS: dict[str, Callable[[Context], None]] = {
    "storefront": storefront,
    "staff": staff_pages,
    "reports": reports,
    "backlogs": backlogs,
    "audit": audit,
}


def _web_master(port: int) -> int | None:
    """The gunicorn master listening on `port` (its command line names the bind address)."""
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                command = (proc / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if b"gunicorn" in b" ".join(command) and f"127.0.0.1:{port}".encode() in command:
                return int(proc.name)
    return None


def _backend_pids(application_name: str) -> list[int]:
    """The PostgreSQL backends of the web workers' connections (libpq's PGAPPNAME names them): another run's
    queries on the same database are not counted."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pid FROM pg_stat_activity WHERE application_name = %s", [application_name])
        return [row[0] for row in cursor.fetchall()]


def _cpu(pids: list[int]) -> dict[int, float]:
    from bench.stack import tree_cpu_seconds

    return {pid: tree_cpu_seconds(pid) for pid in pids}


def _spent(before: dict[int, float], after: dict[int, float]) -> float:
    """CPU seconds between two readings (a process that appeared in between counts from its start)."""
    return sum(seconds - before.get(pid, 0.0) for pid, seconds in after.items())


def _machine_cpu() -> float:
    """Busy CPU seconds of the whole machine so far (/proc/stat: everything but idle and iowait)."""
    ticks = [int(value) for value in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return (sum(ticks) - ticks[3] - ticks[4]) / os.sysconf("SC_CLK_TCK")


def over_http(ctx: Context, *, start_web: Callable[[Path], str], seconds: float, concurrency: int) -> None:
    """The never-cached first page, deep page and a search over real HTTP (gunicorn gthread, keep-alive clients in
    two processes: bench/storefront.py's load generator) beside the same in-memory baseline: the issue's share.

    With each figure, where its CPU went, per request: the web workers (gunicorn's processes), PostgreSQL (this
    database's backends) and the whole machine (the load generator and anything else running are the rest). On 2
    CPUs a path's requests/s is about 2 s / the machine's CPU per request."""
    from urllib.parse import urlparse

    from bench.storefront import _measure

    body = ctx.plans_dir / "baseline.json"
    body.write_bytes(ctx.first_page)
    application_name = f"data-scale-http-{os.getpid()}"
    os.environ["PGAPPNAME"] = application_name  # the web workers' connections (this process's are open already)
    try:
        port = urlparse(start_web(body)).port
    finally:
        del os.environ["PGAPPNAME"]
    master = _web_master(port)
    paths = {"baseline": "/bench/baseline", **{label: path + "&request={n}" for label, path in ctx.paths.items()}}
    for path in paths.values():  # warm-up: every worker's connections and caches
        _measure(port, path, ctx.token, seconds=min(1.0, seconds), concurrency=concurrency, processes=2)
    for label, path in paths.items():
        web_before, db_before = _cpu([master] if master else []), _cpu(_backend_pids(application_name))
        machine_before = _machine_cpu()
        result = _measure(port, path, ctx.token, seconds=seconds, concurrency=concurrency, processes=2)
        web = _spent(web_before, _cpu([master] if master else []))
        db, machine = _spent(db_before, _cpu(_backend_pids(application_name))), _machine_cpu() - machine_before
        per_request = 1000 / max(1, result["requests"])
        split = {"web_cpu_ms": web * per_request, "db_cpu_ms": db * per_request}
        split["machine_cpu_ms"] = machine * per_request
        print(
            f"   HTTP {label}: {result['rps']:,.0f} req/s; CPU per request: web workers {split['web_cpu_ms']:.2f} ms, "
            f"PostgreSQL {split['db_cpu_ms']:.2f} ms, whole machine {split['machine_cpu_ms']:.2f} ms",
            flush=True,
        )
        ctx.figures.append(
            Figure(
                name=f"HTTP: {label}" + ("" if label == "baseline" else ", never cached"),
                kind="http-baseline" if label == "baseline" else "http",
                p50_ms=result["p50"],
                p95_ms=result["p99"],  # the load generator reports p99: shown in the p95 column, named in the header
                rps=result["rps"],
                queries=0,
                extra={"requests": result["requests"], "p99_ms": result["p99"], **split},
            )
        )
