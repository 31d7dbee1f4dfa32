"""The bench server's URL conf: the real app plus one minimal in-memory view.

`/bench/baseline` returns, from memory, the exact bytes the storefront list answered when
the benchmark started (file named by BENCH_BASELINE_JSON): no authentication, no database,
no serializer. It is the ceiling a Django process on this machine can reach for that JSON.
"""

from __future__ import annotations

import os
from pathlib import Path

from django.http import HttpRequest, HttpResponse
from django.urls import path

from config.urls import urlpatterns as app_urlpatterns

_BODY = Path(os.environ["BENCH_BASELINE_JSON"]).read_bytes() if os.environ.get("BENCH_BASELINE_JSON") else b"{}"


def baseline(request: HttpRequest) -> HttpResponse:
    return HttpResponse(_BODY, content_type="application/json")


urlpatterns = [path("bench/baseline", baseline), *app_urlpatterns]
