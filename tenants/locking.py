"""The one lock order of every write, and the helpers that take an object's row first.

Two transactions that take the same two locks in opposite orders deadlock (Postgres then kills one
of them: a 500). So every service takes its row locks in this order, skipping what it does not need:

1. the tenant row, for the tenant-wide versioned settings (brand policy, safety configuration,
   the tenant's status);
2. a collection: FOR KEY SHARE when an asset moves into it (the lock the foreign key check would
   take anyway, taken before the asset's), FOR UPDATE to delete it;
3. an asset, then its versions, then what hangs off a version (renditions, publish window): the
   asset row serialises every write on one asset, as version creation and review already do;
4. the other single object being changed or deleted: a webhook endpoint, placement, API key, budget,
   membership, library settings. Several rows of one kind: in ascending id;
5. the tenant's audit chain head, always last. `tenants.audit.audit()` takes it, so it is called
   after the change (or inside `audit_deferred()`, which moves it to the block's end).

A change is an `UPDATE ... WHERE` on the row locked here (`save(update_fields=...)` or
`QuerySet.update`), never a full `save()`: Django INSERTs when that UPDATE matches no row, which
would bring back an object a concurrent request has just deleted. A row that is gone by the time it
is locked answers `NotFound` (404): a delete is final. See docs/audit-and-costs.md, "Lock order".
"""

from __future__ import annotations

from typing import TypeVar

from django.db import connection
from django.db.models import Model, QuerySet

from tenants.errors import NotFound

M = TypeVar("M", bound=Model)


def lock_for_change(rows: QuerySet[M], pk: int, *, label: str, delete: bool = False) -> M:
    """The row `pk` of `rows` (a tenant-scoped queryset) as it is now, locked until commit.

    FOR NO KEY UPDATE to change it (foreign keys to it still insert), FOR UPDATE to delete it.
    Raises NotFound when a concurrent request deleted it after the caller read it."""
    locking = rows.select_for_update() if delete else rows.select_for_update(no_key=True)
    row = locking.filter(pk=pk).first()
    if row is None:
        raise NotFound(f"this {label} no longer exists", field="id")
    return row


def lock_key_share(rows: QuerySet[M], pk: int) -> bool:
    """Hold row `pk` of `rows` FOR KEY SHARE until commit: it cannot be deleted meanwhile, while its own
    updates go on. False when it is gone. Taken before pointing a child row at it, so a concurrent
    delete of the parent (which updates the children: SET NULL) waits for us or we see it gone."""
    sql, params = rows.filter(pk=pk).values("pk").query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(f"{sql} FOR KEY SHARE", params)
        return cursor.fetchone() is not None
