"""The Celery application: Redis broker, JSON only, late acks, one message at a time.

Queues: `default` (housekeeping), `generation` (provider calls, I/O bound: run it with a thread pool),
`interactive` (the jobs someone waits for: their own threads, so a campaign's backlog never holds them before the
scheduler can put their calls first), `renditions` (image processing, CPU bound: a process pool), `webhooks`
(outgoing HTTP with short timeouts, kept apart so a slow receiver never takes a job worker's slot).
"""

from __future__ import annotations

import os

from celery import Celery
from kombu import Queue

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("dam")
app.config_from_object("django.conf:settings", namespace="CELERY")
QUEUES = ("default", "generation", "interactive", "renditions", "webhooks")
app.conf.task_queues = [Queue(name) for name in QUEUES]
app.autodiscover_tasks()
