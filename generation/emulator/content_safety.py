"""Azure AI Content Safety, emulated: the same REST endpoints, driven by a documented lexicon and
configurable verdicts, so the platform's Content Safety client is exercised over HTTP. Not a classifier.

Routes (api-version required, `Ocp-Apim-Subscription-Key` header required; when the emulator is
started with api keys, the key must be one of them):
    POST   /contentsafety/text:analyze            {"text", "categories"?, "blocklistNames"?, "haltOnBlocklistHit"?,
                                                   "outputType"?: FourSeverityLevels | EightSeverityLevels}
           -> {"blocklistsMatch": [{"blocklistName", "blocklistItemId", "blocklistItemText"}],
               "categoriesAnalysis": [{"category": "Hate", "severity": 0}, ...]}
    POST   /contentsafety/image:analyze           {"image": {"content": base64}, "categories"?, "outputType"?}
           -> {"categoriesAnalysis": [...]}    (at most 4 MB and 2048x2048, at least 50x50)
    POST   /contentsafety/text:shieldPrompt       {"userPrompt", "documents"?: [...]}
           -> {"userPromptAnalysis": {"attackDetected"}, "documentsAnalysis": [{"attackDetected"}, ...]}
    PATCH  /contentsafety/text/blocklists/{name}  {"description"?}  -> 201 created | 200 updated
    GET | DELETE /contentsafety/text/blocklists/{name};  GET /contentsafety/text/blocklists
    POST   /contentsafety/text/blocklists/{name}:addOrUpdateBlocklistItems  {"blocklistItems": [{"text",
           "description"?, "isRegex"?}]}  (1-100 items, text at most 128 characters)
    POST   /contentsafety/text/blocklists/{name}:removeBlocklistItems  {"blocklistItemIds": [...]}  -> 204
    GET    /contentsafety/text/blocklists/{name}/blocklistItems  -> {"value": [...]}

Verdicts:
- text: the local lexicon (`governance.safety.lexicon`: triggers `cs-<category>-<0..7>`, a short word list,
  prompt-attack phrases), raised to at least `text_severities` when configured;
- images: the head of `image_verdict_queue` (one entry per call), else `image_severities`, else 0;
- prompt shield: the lexicon's attack phrases, or always when `attack_detected` is set;
- blocklists: items match case-insensitively across Unicode normalisation (terms as whole words in spaced
  scripts, regular expressions as searched patterns).
Configure through `POST /_emulator/config` with `{"content_safety": {...}}` (the fields of
`generation.emulator.content_safety_state.ContentSafetyConfig`); `GET /_emulator/stats` reports calls under
`content_safety`; `POST /_emulator/reset` clears calls and blocklists (and restores the start configuration
when asked).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import io
import json
import re
import uuid
from typing import Any

from PIL import Image
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from generation.emulator.content_safety_state import Blocklist, BlocklistItem, ContentSafetyConfig, ContentSafetyState
from governance.safety.categories import AZURE_NAMES, FROM_AZURE_NAME, four_levels
from governance.safety.lexicon import attack_detected, lexicon_severities
from governance.safety.matching import MAX_PATTERN_CHARS, compile_pattern

KEY_HEADER = "ocp-apim-subscription-key"
MAX_TEXT_CHARS = 10_000
MAX_IMAGE_BYTES = 4 * 1024 * 1024
MAX_IMAGE_EDGE = 2048
MIN_IMAGE_EDGE = 50
MAX_ITEMS_PER_CALL = 100
MAX_BLOCKLISTS_PER_CALL = 10
OUTPUT_TYPES = ("FourSeverityLevels", "EightSeverityLevels")
_BLOCKLIST_NAME = re.compile(r"^[0-9A-Za-z_.~-]{1,64}$")


class ContentSafetyError(Exception):
    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.headers = status, code, message, headers or {}

    def response(self) -> JSONResponse:
        body = {"error": {"code": self.code, "message": self.message, "details": []}}
        return JSONResponse(body, status_code=self.status, headers=self.headers)


def _invalid(message: str, code: str = "InvalidRequestBody") -> ContentSafetyError:
    return ContentSafetyError(400, code, message)


# --- request plumbing ---------------------------------------------------------------------------------


def _state(request: Request) -> ContentSafetyState:
    return request.app.state.content_safety


def _authenticate(request: Request, state: ContentSafetyState) -> None:
    key = request.headers.get(KEY_HEADER, "").strip()
    if not key:
        raise ContentSafetyError(
            401,
            "401",
            "Access denied due to missing subscription key. Make sure to include subscription key when making "
            "requests to an API.",
        )
    allowed = state.allowed_keys()
    if allowed and key not in allowed:
        raise ContentSafetyError(
            401,
            "401",
            "Access denied due to invalid subscription key or wrong API endpoint. Make sure to provide a valid key "
            "for an active subscription and use a correct regional API endpoint for your resource.",
        )
    if not request.query_params.get("api-version"):
        raise ContentSafetyError(404, "404", "Resource not found")


async def _body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    try:
        body = json.loads(raw or b"{}")
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise _invalid("The request body is not valid JSON.") from None
    if not isinstance(body, dict):
        raise _invalid("The request body must be a JSON object.")
    return body


def _handler(operation: str, status: int = 200):
    """Wraps an endpoint: auth, injected faults and latency, error shape, stats, the emulator's ids."""

    def decorate(endpoint):
        async def handle(request: Request) -> Response:
            state = _state(request)
            details: dict[str, Any] = {}
            try:
                _authenticate(request, state)
                fault = state.next_fault()
                if fault == "429":
                    raise ContentSafetyError(
                        429,
                        "TooManyRequests",
                        "Rate limit is exceeded. Try again in 1 seconds. (foundry emulator: injected fault)",
                        {"retry-after": "1"},
                    )
                if fault == "500":
                    raise ContentSafetyError(500, "InternalServerError", "(foundry emulator: injected fault)")
                if state.config.latency_ms:
                    await asyncio.sleep(state.config.latency_ms / 1000)
                result = await endpoint(request, state, details)
                response = result if isinstance(result, Response) else JSONResponse(result, status_code=status)
            except ContentSafetyError as error:
                response = error.response()
            state.record(operation, response.status_code, **details)
            request_id = str(uuid.uuid4())
            response.headers["apim-request-id"] = request_id
            response.headers["x-request-id"] = request_id
            return response

        return handle

    return decorate


def _categories(body: dict[str, Any]) -> list[str]:
    requested = body.get("categories") or list(AZURE_NAMES.values())
    if not isinstance(requested, list) or any(name not in FROM_AZURE_NAME for name in requested):
        raise _invalid(f"categories must be a subset of {', '.join(AZURE_NAMES.values())}.")
    return requested


def _analysis(severities: dict[str, int], categories: list[str], output_type: str) -> list[dict[str, Any]]:
    scale = (lambda s: s) if output_type == "EightSeverityLevels" else four_levels
    return [{"category": name, "severity": scale(severities.get(FROM_AZURE_NAME[name], 0))} for name in categories]


# --- analysis -------------------------------------------------------------------------------------------


@_handler("text_analyze")
async def text_analyze(request: Request, state: ContentSafetyState, details: dict[str, Any]) -> dict[str, Any]:
    body = await _body(request)
    text = body.get("text")
    if not isinstance(text, str) or not text.strip():
        raise _invalid("The text field is required and must not be empty.")
    if len(text) > MAX_TEXT_CHARS:
        raise _invalid(f"The text exceeds the maximum length of {MAX_TEXT_CHARS} characters.", "InvalidRequestBody")
    output_type = body.get("outputType", "FourSeverityLevels")
    if output_type not in OUTPUT_TYPES:
        raise _invalid(f"outputType must be one of {', '.join(OUTPUT_TYPES)}.")
    categories = _categories(body)
    names = body.get("blocklistNames") or []
    if not isinstance(names, list) or len(names) > MAX_BLOCKLISTS_PER_CALL:
        raise _invalid(f"blocklistNames must be a list of at most {MAX_BLOCKLISTS_PER_CALL} names.")
    details.update(text=text[:500], blocklists=list(names))
    matches = []
    for name in names:
        blocklist = state.blocklists.get(name)
        if blocklist is None:
            raise ContentSafetyError(404, "NotFound", f"The blocklist {name} is not found.")
        matches += [
            {"blocklistName": name, "blocklistItemId": item.id, "blocklistItemText": item.text}
            for item in list(blocklist.items.values())
            if item.matches(text)
        ]
    if matches and body.get("haltOnBlocklistHit"):
        return {"blocklistsMatch": matches, "categoriesAnalysis": []}
    severities = lexicon_severities(text)
    for category, floor in state.config.text_severities.items():
        severities[category] = max(severities[category], floor)
    return {"blocklistsMatch": matches, "categoriesAnalysis": _analysis(severities, categories, output_type)}


@_handler("image_analyze")
async def image_analyze(request: Request, state: ContentSafetyState, details: dict[str, Any]) -> dict[str, Any]:
    body = await _body(request)
    image = body.get("image")
    if not isinstance(image, dict) or not isinstance(image.get("content"), str):
        if isinstance(image, dict) and image.get("blobUrl"):
            raise _invalid("blobUrl is not supported by the foundry emulator; send the image content.")
        raise _invalid("image.content (base64) is required.")
    try:
        data = base64.b64decode(image["content"], validate=True)
    except (binascii.Error, ValueError):
        raise _invalid("image.content is not valid base64.", "InvalidImageFormat") from None
    if len(data) > MAX_IMAGE_BYTES:
        raise _invalid(f"The image exceeds the maximum size of {MAX_IMAGE_BYTES} bytes.", "InvalidImageSize")
    try:
        with Image.open(io.BytesIO(data)) as decoded:
            width, height = decoded.size
    except Exception:  # Pillow raises many types for undecodable input
        raise _invalid("The image format is not supported.", "InvalidImageFormat") from None
    if max(width, height) > MAX_IMAGE_EDGE or min(width, height) < MIN_IMAGE_EDGE:
        raise _invalid(
            f"The image dimensions {width}x{height} are outside {MIN_IMAGE_EDGE}x{MIN_IMAGE_EDGE} to "
            f"{MAX_IMAGE_EDGE}x{MAX_IMAGE_EDGE}.",
            "InvalidImageSize",
        )
    output_type = body.get("outputType", "FourSeverityLevels")
    if output_type != "FourSeverityLevels":
        raise _invalid("The image API supports only FourSeverityLevels.")
    categories = _categories(body)
    details.update(size=f"{width}x{height}", bytes=len(data))
    return {"categoriesAnalysis": _analysis(state.next_image_severities(), categories, output_type)}


@_handler("shield_prompt")
async def shield_prompt(request: Request, state: ContentSafetyState, details: dict[str, Any]) -> dict[str, Any]:
    body = await _body(request)
    user_prompt = body.get("userPrompt", "")
    documents = body.get("documents") or []
    if (
        not isinstance(user_prompt, str)
        or not isinstance(documents, list)
        or not all(isinstance(d, str) for d in documents)
    ):
        raise _invalid("userPrompt must be a string and documents a list of strings.")
    if len(user_prompt) > MAX_TEXT_CHARS or sum(map(len, documents)) > MAX_TEXT_CHARS * 10:
        raise _invalid("The userPrompt or documents exceed the maximum length.")
    details.update(text=user_prompt[:500], documents=len(documents))
    forced = state.config.attack_detected
    return {
        "userPromptAnalysis": {"attackDetected": forced or attack_detected(user_prompt)},
        "documentsAnalysis": [{"attackDetected": forced or attack_detected(d)} for d in documents],
    }


# --- blocklist management ---------------------------------------------------------------------------------


def _blocklist(state: ContentSafetyState, request: Request) -> Blocklist:
    name = request.path_params["name"]
    blocklist = state.blocklists.get(name)
    if blocklist is None:
        raise ContentSafetyError(404, "NotFound", f"The blocklist {name} is not found.")
    return blocklist


@_handler("blocklist_upsert")
async def blocklist_upsert(request: Request, state: ContentSafetyState, details: dict[str, Any]) -> Response:
    name = request.path_params["name"]
    if not _BLOCKLIST_NAME.match(name):
        raise _invalid("The blocklist name may contain letters, digits, '-', '_', '.', '~' (at most 64).")
    body = await _body(request)
    description = str(body.get("description") or "")
    details.update(blocklist=name)
    existing = state.blocklists.get(name)
    if existing is not None:
        existing.description = description
        return JSONResponse(existing.to_dict(), status_code=200)
    created = state.blocklists.setdefault(name, Blocklist(name=name, description=description))
    return JSONResponse(created.to_dict(), status_code=201)


@_handler("blocklist_get")
async def blocklist_get(request: Request, state: ContentSafetyState, details: dict[str, Any]) -> dict[str, Any]:
    return _blocklist(state, request).to_dict()


@_handler("blocklist_delete")
async def blocklist_delete(request: Request, state: ContentSafetyState, details: dict[str, Any]) -> Response:
    state.blocklists.pop(request.path_params["name"], None)
    return Response(status_code=204)


@_handler("blocklist_list")
async def blocklist_list(request: Request, state: ContentSafetyState, details: dict[str, Any]) -> dict[str, Any]:
    return {"value": [blocklist.to_dict() for blocklist in list(state.blocklists.values())]}


@_handler("blocklist_add_items")
async def blocklist_add_items(request: Request, state: ContentSafetyState, details: dict[str, Any]) -> dict[str, Any]:
    blocklist = _blocklist(state, request)
    body = await _body(request)
    items = body.get("blocklistItems")
    if not isinstance(items, list) or not 1 <= len(items) <= MAX_ITEMS_PER_CALL:
        raise _invalid(f"blocklistItems must be a list of 1 to {MAX_ITEMS_PER_CALL} items.")
    added = []
    for entry in items:
        text = entry.get("text") if isinstance(entry, dict) else None
        if not isinstance(text, str) or not text.strip() or len(text) > MAX_PATTERN_CHARS:
            raise _invalid(f"Each item needs a text of 1 to {MAX_PATTERN_CHARS} characters.")
        is_regex = bool(entry.get("isRegex", False))
        if is_regex:
            try:
                compile_pattern(text)
            except ValueError as exc:
                raise _invalid(f"The regular expression {text!r} is invalid: {exc}") from None
        existing = next((i for i in blocklist.items.values() if i.text == text and i.is_regex == is_regex), None)
        item = existing or BlocklistItem(id=str(uuid.uuid4()), text=text, is_regex=is_regex, description="")
        item.description = str(entry.get("description") or "")
        blocklist.items[item.id] = item
        added.append(item.to_dict())
    details.update(blocklist=blocklist.name, items=len(added))
    return {"blocklistItems": added}


@_handler("blocklist_remove_items")
async def blocklist_remove_items(request: Request, state: ContentSafetyState, details: dict[str, Any]) -> Response:
    blocklist = _blocklist(state, request)
    body = await _body(request)
    ids = body.get("blocklistItemIds")
    if not isinstance(ids, list) or not 1 <= len(ids) <= MAX_ITEMS_PER_CALL:
        raise _invalid(f"blocklistItemIds must be a list of 1 to {MAX_ITEMS_PER_CALL} ids.")
    for item_id in ids:
        blocklist.items.pop(str(item_id), None)
    return Response(status_code=204)


@_handler("blocklist_items")
async def blocklist_items(request: Request, state: ContentSafetyState, details: dict[str, Any]) -> dict[str, Any]:
    blocklist = _blocklist(state, request)
    return {"value": [item.to_dict() for item in list(blocklist.items.values())]}


__all__ = ["ContentSafetyConfig", "ContentSafetyState", "content_safety_routes"]


def content_safety_routes() -> list[Route]:
    base = "/contentsafety"
    lists = f"{base}/text/blocklists"
    return [
        Route(f"{base}/text:analyze", text_analyze, methods=["POST"]),
        Route(f"{base}/image:analyze", image_analyze, methods=["POST"]),
        Route(f"{base}/text:shieldPrompt", shield_prompt, methods=["POST"]),
        Route(f"{lists}/{{name}}:addOrUpdateBlocklistItems", blocklist_add_items, methods=["POST"]),
        Route(f"{lists}/{{name}}:removeBlocklistItems", blocklist_remove_items, methods=["POST"]),
        Route(f"{lists}/{{name}}/blocklistItems", blocklist_items, methods=["GET"]),
        Route(f"{lists}/{{name}}", blocklist_upsert, methods=["PATCH"]),
        Route(f"{lists}/{{name}}", blocklist_get, methods=["GET"]),
        Route(f"{lists}/{{name}}", blocklist_delete, methods=["DELETE"]),
        Route(lists, blocklist_list, methods=["GET"]),
    ]
