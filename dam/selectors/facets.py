"""The values a tenant's assets and versions hold in one column (markets, campaigns, jobs), for the staff pages'
filter choices, read by skipping through an index: one index probe per distinct value, so the choices cost the
same at a million rows as at a thousand and miss no value (a DISTINCT over the newest 10,000 rows cost 20-35 ms
each and could miss an older market; bench/data_scale.py, docs/sizing.md).

Each walk is a recursive query (PostgreSQL has no skip scan of its own): the first value, then the first value
past it, and so on, on an index that starts with (tenant_id, <column>).
"""

from __future__ import annotations

from django.db import connection

from dam.lifecycle import VersionStatus

# name -> (table, column, the condition every probe carries, the order walked, "<" or ">" past a value), each on
# an index whose order it follows (a condition the index cannot seek on would be walked row by row):
_WALKS = {
    # asset_tenant_locale (tenant, locale); `> ''` seeks past the assets without a market
    "asset_locale": ("dam_asset", "locale", "locale > ''", "ASC", ">"),
    # version_tenant_locale (tenant, locale)
    "version_locale": ("dam_assetversion", "locale", "locale > ''", "ASC", ">"),
    # asset_campaign_cell (tenant, campaign_id, ...) WHERE campaign_id IS NOT NULL, walked backwards
    "asset_campaign": ("dam_asset", "campaign_id", "campaign_id IS NOT NULL", "DESC", "<"),
    # version_board_job (tenant, status, job_id DESC NULLS LAST, id): one walk per status (%s: the status)
    "version_job": ("dam_assetversion", "job_id", "status = %s AND job_id IS NOT NULL", "DESC NULLS LAST", "<"),
}


def _walk(name: str, *, tenant_id: int, limit: int, params: tuple = ()) -> list:
    """Up to `limit` distinct values, in the index's order. `params` fill the condition's placeholders."""
    table, column, condition, order, past = _WALKS[name]
    probe = f"SELECT {column} FROM {table} WHERE tenant_id = %s AND {condition}"
    sql = f"""
    WITH RECURSIVE walk(value, n) AS (
        (SELECT value, 1 FROM ({probe} ORDER BY {column} {order} LIMIT 1) AS first(value))
        UNION ALL
        SELECT ({probe} AND {column} {past} walk.value ORDER BY {column} {order} LIMIT 1), walk.n + 1
        FROM walk WHERE walk.value IS NOT NULL AND walk.n < %s
    )
    SELECT value FROM walk WHERE value IS NOT NULL
    """
    with connection.cursor() as cursor:
        cursor.execute(sql, [tenant_id, *params, tenant_id, *params, limit])
        return [row[0] for row in cursor.fetchall()]


def asset_locales(*, tenant_id: int, limit: int = 200) -> list[str]:
    """The markets the tenant's assets carry, A-Z (as the index sorts them)."""
    return _walk("asset_locale", tenant_id=tenant_id, limit=limit)


def version_locales(*, tenant_id: int, limit: int = 200) -> list[str]:
    """The locales the tenant's versions carry (versions made before campaigns carry the market there only)."""
    return _walk("version_locale", tenant_id=tenant_id, limit=limit)


def asset_campaign_ids(*, tenant_id: int, limit: int = 200) -> list[int]:
    """The campaigns the tenant's assets belong to, newest (highest id) first."""
    return _walk("asset_campaign", tenant_id=tenant_id, limit=limit)


def version_job_ids(*, tenant_id: int, statuses: list[str], limit: int = 100) -> list[int]:
    """The newest jobs with a version in one of `statuses`, newest first: a walk per status, merged."""
    ids: set[int] = set()
    for status in statuses:
        if status not in VersionStatus.values:
            raise ValueError(f"unknown status {status!r}")
        ids.update(_walk("version_job", tenant_id=tenant_id, limit=limit, params=(status,)))
    return sorted(ids, reverse=True)[:limit]
