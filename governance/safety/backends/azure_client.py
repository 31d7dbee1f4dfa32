"""An httpx client for Azure AI Content Safety (REST, api-version 2024-09-01).

Operations used by the platform:
    POST  {endpoint}/contentsafety/text:analyze                                    text severities, blocklist matches
    POST  {endpoint}/contentsafety/image:analyze                                   image severities
    POST  {endpoint}/contentsafety/text:shieldPrompt                               prompt attacks
    PATCH {endpoint}/contentsafety/text/blocklists/{name}                          create or update a blocklist
    GET | DELETE {endpoint}/contentsafety/text/blocklists/{name}
    POST  {endpoint}/contentsafety/text/blocklists/{name}:addOrUpdateBlocklistItems
    POST  {endpoint}/contentsafety/text/blocklists/{name}:removeBlocklistItems
    GET   {endpoint}/contentsafety/text/blocklists/{name}/blocklistItems
Auth is the `Ocp-Apim-Subscription-Key` header. Throttling (429) and server errors are retried a bounded
number of times, honouring `retry-after`; then `ModerationUnavailable`. Other errors are `ModerationError`
with the service's error code (`{"error": {"code", "message"}}`).
"""

from __future__ import annotations

import base64
import functools
import ssl
import time
from collections.abc import Callable, Sequence
from typing import Any

import certifi
import httpx

from governance.safety.backends.base import ModerationError, ModerationUnavailable

API_VERSION = "2024-09-01"
KEY_HEADER = "Ocp-Apim-Subscription-Key"
MAX_TEXT_CHARS = 10_000  # per text:analyze / shieldPrompt request, in code points
MAX_ITEMS_PER_CALL = 100  # addOrUpdateBlocklistItems accepts at most 100 items per call
MAX_RETRY_WAIT_SECONDS = 10.0


@functools.cache
def shared_ssl_context() -> ssl.SSLContext:
    """One TLS context per process: loading the CA bundle costs ~45 ms of CPU (holding the GIL), and a client
    is built per check, so a context per client made every live plan pay it (bench/plan.py)."""
    return ssl.create_default_context(cafile=certifi.where())


class ContentSafetyClient:
    def __init__(
        self,
        *,
        endpoint: str,
        api_key: str,
        api_version: str = API_VERSION,
        timeout_seconds: float = 10.0,
        max_attempts: int = 3,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if not endpoint:
            raise ModerationError("CONTENT_SAFETY_ENDPOINT is not set")
        self.endpoint = endpoint.rstrip("/")
        self.api_version = api_version
        self.max_attempts = max(1, max_attempts)
        self._api_key = api_key
        self._sleep = sleep
        self._http = httpx.Client(
            # Paths are joined as "contentsafety/...": a path starting "text:analyze" would parse as a URL scheme.
            base_url=f"{self.endpoint}/",
            headers={KEY_HEADER: api_key, "user-agent": "dam-platform-content-safety/1"},
            params={"api-version": api_version},
            timeout=httpx.Timeout(timeout_seconds),
            transport=transport,
            verify=shared_ssl_context(),
            follow_redirects=False,  # a redirect would carry the key to wherever it points
        )

    def __repr__(self) -> str:
        return f"ContentSafetyClient({self.endpoint!r}, api_version={self.api_version!r})"

    def __enter__(self) -> ContentSafetyClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    # --- analysis -----------------------------------------------------------------------
    def analyze_text(
        self,
        text: str,
        *,
        blocklist_names: Sequence[str] = (),
        categories: Sequence[str] = ("Hate", "Sexual", "Violence", "SelfHarm"),
        output_type: str = "FourSeverityLevels",
        halt_on_blocklist_hit: bool = False,
    ) -> dict[str, Any]:
        body: dict[str, Any] = {"text": text, "categories": list(categories), "outputType": output_type}
        if blocklist_names:
            body["blocklistNames"] = list(blocklist_names)
            body["haltOnBlocklistHit"] = halt_on_blocklist_hit
        return self._request("POST", "text:analyze", json=body)

    def analyze_image(
        self, data: bytes, *, categories: Sequence[str] = ("Hate", "Sexual", "Violence", "SelfHarm")
    ) -> dict[str, Any]:
        body = {
            "image": {"content": base64.b64encode(data).decode("ascii")},
            "categories": list(categories),
            "outputType": "FourSeverityLevels",  # the only scale the image API has
        }
        return self._request("POST", "image:analyze", json=body)

    def shield_prompt(self, user_prompt: str, documents: Sequence[str] = ()) -> dict[str, Any]:
        body = {"userPrompt": user_prompt, "documents": list(documents)}
        return self._request("POST", "text:shieldPrompt", json=body)

    # --- blocklist management -----------------------------------------------------------
    def blocklist_upsert(self, name: str, *, description: str = "") -> dict[str, Any]:
        return self._request(
            "PATCH",
            f"text/blocklists/{name}",
            json={"description": description},
            headers={"content-type": "application/merge-patch+json"},
        )

    def blocklist_get(self, name: str) -> dict[str, Any]:
        return self._request("GET", f"text/blocklists/{name}")

    def blocklist_delete(self, name: str) -> None:
        self._request("DELETE", f"text/blocklists/{name}")

    def blocklist_items(self, name: str) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        page = self._request("GET", f"text/blocklists/{name}/blocklistItems", params={"maxpagesize": 1000})
        while True:
            items += page.get("value", [])
            next_link = page.get("nextLink")
            if not next_link:
                return items
            page = self._request("GET", next_link)

    def blocklist_add_items(self, name: str, items: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
        added: list[dict[str, Any]] = []
        for start in range(0, len(items), MAX_ITEMS_PER_CALL):
            batch = list(items[start : start + MAX_ITEMS_PER_CALL])
            result = self._request(
                "POST", f"text/blocklists/{name}:addOrUpdateBlocklistItems", json={"blocklistItems": batch}
            )
            added += result.get("blocklistItems", [])
        return added

    def blocklist_remove_items(self, name: str, item_ids: Sequence[str]) -> None:
        for start in range(0, len(item_ids), MAX_ITEMS_PER_CALL):
            batch = list(item_ids[start : start + MAX_ITEMS_PER_CALL])
            self._request("POST", f"text/blocklists/{name}:removeBlocklistItems", json={"blocklistItemIds": batch})

    # --- transport ------------------------------------------------------------------------
    def _request(self, method: str, path: str, **kwargs: Any) -> Any:
        url = path if path.startswith(("http://", "https://")) else f"contentsafety/{path}"
        last: ModerationError | None = None
        for attempt in range(1, self.max_attempts + 1):
            try:
                response = self._http.request(method, url, **kwargs)
            except httpx.HTTPError as exc:
                last = ModerationUnavailable(f"Content Safety unreachable: {type(exc).__name__}: {exc}")
                wait = min(MAX_RETRY_WAIT_SECONDS, 0.2 * 2 ** (attempt - 1))
            else:
                if response.status_code < 400:
                    return response.json() if response.content else {}
                last = self._error(response)
                if not last.retryable:
                    raise last
                wait = _retry_after(response) or min(MAX_RETRY_WAIT_SECONDS, 0.2 * 2 ** (attempt - 1))
            if attempt < self.max_attempts:
                self._sleep(min(wait, MAX_RETRY_WAIT_SECONDS))
        assert last is not None
        raise last

    def _error(self, response: httpx.Response) -> ModerationError:
        try:
            error = response.json().get("error") or {}
        except (ValueError, AttributeError):
            error = {}
        code = str(error.get("code") or response.status_code)
        message = str(error.get("message") or response.text[:300] or f"HTTP {response.status_code}")
        if self._api_key:
            message = message.replace(self._api_key, "********")
        error_class = ModerationUnavailable if response.status_code == 429 or response.status_code >= 500 else None
        return (error_class or ModerationError)(
            f"Content Safety: {message}", status_code=response.status_code, code=code
        )


def _retry_after(response: httpx.Response) -> float | None:
    for header, scale in (("retry-after-ms", 0.001), ("retry-after", 1.0)):
        value = response.headers.get(header)
        if value:
            try:
                return max(0.0, float(value) * scale)
            except ValueError:
                continue
    return None
