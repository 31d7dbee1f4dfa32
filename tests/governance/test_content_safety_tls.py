"""A Content Safety client is built per check (the live plan builds one per request): it must not load the CA
bundle each time (~45 ms of CPU holding the GIL, most of a plan's cost under load: bench/plan.py)."""

from __future__ import annotations

import ssl

from governance.safety.backends.azure_client import ContentSafetyClient


def test_clients_share_one_tls_context(monkeypatch):
    ContentSafetyClient(endpoint="https://cs.example.com", api_key="k").close()  # the process's first
    created = []
    real = ssl.create_default_context

    def counting(*args, **kwargs):
        created.append(args)
        return real(*args, **kwargs)

    monkeypatch.setattr(ssl, "create_default_context", counting)
    for _ in range(3):
        ContentSafetyClient(endpoint="https://cs.example.com", api_key="k").close()
    assert created == []
