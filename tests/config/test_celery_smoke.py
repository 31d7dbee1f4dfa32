import uuid

import pytest
from django.db import connection

from config.celery import app
from dam.tasks import ping

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def test_a_real_worker_runs_a_task_through_redis_against_the_test_database(celery_worker):
    assert not app.conf.task_always_eager
    token = uuid.uuid4().hex
    result = ping.delay(token).get(timeout=30)
    assert result["token"] == token
    assert result["database"] == connection.settings_dict["NAME"]


def test_reliability_settings_are_in_force():
    conf = app.conf
    assert conf.task_acks_late and conf.task_reject_on_worker_lost
    assert conf.worker_prefetch_multiplier == 1
    assert conf.accept_content == ["json"] and conf.task_serializer == "json"
    assert conf.broker_transport_options["visibility_timeout"] > conf.task_time_limit
    assert {q.name for q in conf.task_queues} >= {"generation", "renditions"}
