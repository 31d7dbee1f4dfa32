import socket

import pytest

pytestmark = pytest.mark.django_db


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_healthz_reports_every_part_ok(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert {name for name, check in body["checks"].items() if check["ok"]} == {"database", "redis", "storage"}


def test_healthz_is_503_naming_redis_when_redis_is_unreachable(client, settings, caplog):
    port = _closed_port()
    settings.REDIS_URL = f"redis://127.0.0.1:{port}/0"
    with caplog.at_level("WARNING", logger="config.health"):
        response = client.get("/healthz")
    assert response.status_code == 503
    body = response.json()
    assert body["failing"] == ["redis"]
    assert body["checks"]["database"]["ok"] and body["checks"]["storage"]["ok"]
    assert body["checks"]["redis"]["ok"] is False
    # An anonymous caller learns which part fails, never why: no exception class, text, host or port.
    text = response.content.decode()
    assert "Connection" not in text and "Error" not in text and str(port) not in text and "127.0.0.1" not in text
    assert set(body["checks"]["redis"]) == {"ok", "ms"}
    # The operator still finds the cause in the log.
    assert any(r.name == "config.health" and r.exc_info and str(port) in str(r.exc_info[1]) for r in caplog.records)
