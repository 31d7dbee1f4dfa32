"""The Azure AI Content Safety backend: the platform's moderation calls mapped onto the service.

- Text longer than the service's 10,000 code points is analysed in chunks; a category's severity is the
  highest of its chunks.
- The tenant's blocklist is synced to the service under a name derived from its content
  (`dam-t<tenant>-<fingerprint>`), so a changed list is a new list and jobs still running under the
  previous configuration version keep theirs. Synced names are remembered per process; a list the
  service no longer knows (a restarted emulator, a cleaned-up resource) is synced again once.
- Images are downscaled to the service's limits before scanning (`governance.safety.images`).
- Text is sent without its invisible characters (`governance.safety.screening.visible`): a zero-width space
  or a soft hyphen inside a word must not hide it from the service's classifier and blocklist either.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence

from governance.safety.backends.azure_client import MAX_TEXT_CHARS, ContentSafetyClient
from governance.safety.backends.base import ImageAnalysis, ModerationError, ShieldAnalysis, TextAnalysis
from governance.safety.categories import CATEGORIES, FROM_AZURE_NAME, four_levels
from governance.safety.images import prepare_for_scan
from governance.safety.policy import SafetyPolicy
from governance.safety.screening import visible
from governance.safety.verdicts import BlocklistHit

_synced_lock = threading.Lock()
_synced: set[tuple[str, str]] = set()  # (endpoint, blocklist name) known to exist with its content


def blocklist_name(policy: SafetyPolicy) -> str:
    return f"dam-t{policy.tenant_id or 0}-{policy.blocklist_fingerprint}"


def _chunks(text: str, size: int = MAX_TEXT_CHARS) -> list[str]:
    return [text[start : start + size] for start in range(0, len(text), size)] or [""]


def _elapsed_ms(started: float) -> int:
    return int((time.perf_counter() - started) * 1000)


class AzureModerationBackend:
    name = "azure"

    def __init__(self, client: ContentSafetyClient) -> None:
        self.client = client

    def close(self) -> None:
        self.client.close()

    # --- text -----------------------------------------------------------------------------
    def analyze_text(self, text: str, *, policy: SafetyPolicy) -> TextAnalysis:
        started = time.perf_counter()
        names = [self._ensure_blocklist(policy)] if policy.blocklist else []
        severities = dict.fromkeys(CATEGORIES, 0)
        hits: dict[str, BlocklistHit] = {}
        by_text = {item.text: item for item in policy.blocklist}
        for chunk in _chunks(visible(text)):
            result = self._analyze_chunk(chunk, names, policy)
            for entry in result.get("categoriesAnalysis", []):
                category = FROM_AZURE_NAME.get(entry.get("category", ""))
                if category is not None:
                    severities[category] = max(severities[category], four_levels(entry.get("severity") or 0))
            for match in result.get("blocklistsMatch") or []:
                item = by_text.get(match.get("blocklistItemText", ""))
                item_id = item.id if item else f"provider:{match.get('blocklistItemId', '')}"
                hits.setdefault(
                    item_id,
                    BlocklistHit(
                        item_id=item_id,
                        field="",
                        regex=bool(item and item.regex),
                        text=match.get("blocklistItemText", ""),
                        source="provider",
                    ),
                )
        return TextAnalysis(severities=severities, blocklist_hits=tuple(hits.values()), latency_ms=_elapsed_ms(started))

    def _analyze_chunk(self, chunk: str, names: list[str], policy: SafetyPolicy) -> dict:
        try:
            return self.client.analyze_text(chunk, blocklist_names=names)
        except ModerationError as exc:
            if not names or exc.status_code != 404:
                raise
            # The service lost the list (or another process's memory was wrong): sync again, once.
            self._forget(names[0])
            names[0] = self._ensure_blocklist(policy)
            return self.client.analyze_text(chunk, blocklist_names=names)

    def _ensure_blocklist(self, policy: SafetyPolicy) -> str:
        name = blocklist_name(policy)
        key = (self.client.endpoint, name)
        with _synced_lock:
            if key in _synced:
                return name
        self.client.blocklist_upsert(
            name, description=f"dam tenant {policy.tenant_id} safety configuration v{policy.version}"
        )
        self.client.blocklist_add_items(
            name,
            [{"text": item.text, "isRegex": item.regex, "description": item.id} for item in policy.blocklist],
        )
        with _synced_lock:
            _synced.add(key)
        return name

    def _forget(self, name: str) -> None:
        with _synced_lock:
            _synced.discard((self.client.endpoint, name))

    # --- images ---------------------------------------------------------------------------
    def analyze_image(self, data: bytes) -> ImageAnalysis:
        started = time.perf_counter()
        result = self.client.analyze_image(prepare_for_scan(data))
        severities = dict.fromkeys(CATEGORIES, 0)
        for entry in result.get("categoriesAnalysis", []):
            category = FROM_AZURE_NAME.get(entry.get("category", ""))
            if category is not None:
                severities[category] = four_levels(entry.get("severity") or 0)
        return ImageAnalysis(severities=severities, latency_ms=_elapsed_ms(started))

    # --- prompt shield ----------------------------------------------------------------------
    def shield_prompt(self, user_prompt: str, documents: Sequence[str]) -> ShieldAnalysis:
        started = time.perf_counter()
        user_attack = False
        document_attacks = [False] * len(documents)
        for index, chunk in enumerate(_chunks(user_prompt)):
            # Locale copies travel with the first chunk; each is far below the per-request limit.
            docs = [document[:MAX_TEXT_CHARS] for document in documents] if index == 0 else []
            result = self.client.shield_prompt(chunk, docs)
            user_attack = user_attack or bool((result.get("userPromptAnalysis") or {}).get("attackDetected"))
            for position, analysis in enumerate(result.get("documentsAnalysis") or []):
                if position < len(document_attacks) and analysis.get("attackDetected"):
                    document_attacks[position] = True
        return ShieldAnalysis(
            user_prompt_attack=user_attack, document_attacks=tuple(document_attacks), latency_ms=_elapsed_ms(started)
        )
