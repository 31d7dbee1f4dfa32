from __future__ import annotations

import socket

from celery import shared_task
from django.db import connection

# Celery autodiscovers `<app>.tasks` only: register the renditions queue's tasks with the worker.
from dam.renditions import tasks as renditions_tasks  # noqa: F401


@shared_task(name="dam.ping", time_limit=30, soft_time_limit=25)
def ping(token: str) -> dict[str, str]:
    """Round trip through broker, worker and database: proves a worker is really serving."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_database()")
        (database,) = cursor.fetchone()
    return {"token": token, "worker": socket.gethostname(), "database": database}
