"""The generate page's form data, turned into the same job request the API takes.

Only the translation lives here (checkbox lists, locale rows, the routing choice); every rule
about the request is `generation.services.submission.job_plan`'s, so the page and the API cannot differ.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.http import QueryDict

from generation.sizing import NAMED_SIZES, Quality
from tenants.errors import ServiceError
from tenants.numbers import is_digits

ROUTING_MODES = ("auto", "tier", "bucket", "explicit")
MAX_MASK_BYTES = 16 * 1024 * 1024
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@dataclass
class GenerateFormState:
    """What the form shows again after a refusal: the user's input, unchanged."""

    prompt: str = ""
    placements: list[str] = field(default_factory=list)
    locales: list[tuple[str, str]] = field(default_factory=list)
    quality: str = ""
    routing_mode: str = "auto"
    tier: str = "image"
    bucket: str = "24"
    size: str = ""
    n: int = 1
    output_format: str = ""
    collection: str = ""
    tags: str = ""
    source_asset: str = ""
    source_version: str = ""
    idempotency_key: str = ""

    @property
    def textless_locales(self) -> list[str]:
        """Languages whose copy was left empty: no in-image text, so no generation of their own."""
        return [code for code, copy in self.locales if code and not copy]


def form_state(data: QueryDict) -> GenerateFormState:
    codes, copies = data.getlist("locale_code"), data.getlist("locale_copy")
    rows = [(c.strip(), t.strip()) for c, t in zip(codes, copies, strict=False) if c.strip() or t.strip()]
    n = data.get("n", "1")
    return GenerateFormState(
        prompt=data.get("prompt", ""),
        placements=data.getlist("placements"),
        locales=rows,
        quality=data.get("quality", ""),
        routing_mode=data.get("routing_mode", "auto"),
        tier=data.get("tier", "image"),
        bucket=data.get("bucket", "24"),
        size=data.get("size", "").strip(),
        n=int(n) if is_digits(n) else 1,
        output_format=data.get("output_format", ""),
        collection=data.get("collection", "").strip(),
        tags=data.get("tags", ""),
        source_asset=data.get("source_asset", "").strip(),
        source_version=data.get("source_version", "").strip(),
        idempotency_key=data.get("idempotency_key", ""),
    )


def job_request(state: GenerateFormState) -> dict[str, Any]:
    """The API's job request body. Raises ServiceError for what only the form can get wrong."""
    body: dict[str, Any] = {"prompt": state.prompt}
    if state.placements:
        body["placements"] = state.placements
    locales: dict[str, str] = {}
    seen: set[str] = set()
    for code, copy in state.locales:
        if not code:
            raise ServiceError(f"name the language of the copy {copy!r}", field="locales")
        if code in seen:
            raise ServiceError(f"{code} is listed twice", field="locales")
        seen.add(code)
        # The hint's promise: a language without copy gets no in-image text. A text-free image reads the same
        # in every language, so such a row adds no generation of its own (and the API refuses empty copy).
        if copy:
            locales[code] = copy
    if locales:
        body["locales"] = locales
    if state.quality:
        body["quality"] = state.quality
    if state.routing_mode not in ROUTING_MODES:
        raise ServiceError(f"choose one of {', '.join(ROUTING_MODES)}", field="routing")
    if state.routing_mode == "tier":
        body["routing"] = {"mode": "tier", "tier": state.tier}
    elif state.routing_mode == "bucket":
        body["routing"] = {"mode": "bucket", "bucket": state.bucket}
    elif state.routing_mode == "explicit":
        if not state.size:
            raise ServiceError("enter a size such as 1536x1024", field="size")
        body["size"] = state.size
    if state.n != 1:
        body["n"] = state.n
    if state.output_format:
        body["output_format"] = state.output_format
    if state.collection:
        body["collection"] = state.collection
    tags = [t.strip() for t in state.tags.split(",") if t.strip()]
    if tags:
        body["tags"] = tags
    if state.source_asset:
        if not is_digits(state.source_asset) or (state.source_version and not is_digits(state.source_version)):
            raise ServiceError("the asset and version to edit are numbers", field="source_version")
        source = {"asset": int(state.source_asset)}
        if state.source_version:
            source["version"] = int(state.source_version)
        body["source_version"] = source
    return body


def mask_bytes(upload: UploadedFile | None) -> bytes | None:
    """The optional mask of an edit: a PNG whose transparent pixels mark where to edit (as the API)."""
    if upload is None:
        return None
    if upload.size > MAX_MASK_BYTES:
        raise ServiceError(f"at most {MAX_MASK_BYTES // (1024 * 1024)} MB", field="mask")
    data = upload.read()
    if not data.startswith(PNG_SIGNATURE):
        raise ServiceError("must be a PNG with an alpha channel", field="mask")
    return data


# The request's field names in the form's words: messages name what the user sees, not the API's keys.
FIELD_LABELS = {
    "prompt": "Prompt",
    "placements": "Placements",
    "locales": "Languages",
    "quality": "Quality",
    "routing": "Routing",
    "size": "Exact size",
    "n": "Images per generation",
    "output_format": "Original format",
    "collection": "Collection",
    "tags": "Tags",
    "source_version": "Version to edit",
    "mask": "Mask",
    "non_field_errors": "Request",
}


def field_label(name: str) -> str:
    return FIELD_LABELS.get(name) or name.replace("_", " ").capitalize()


def error_fields(exc: ServiceError | ValidationError) -> dict[str, list[str]]:
    """Field -> messages, for both of the services' error types."""
    if isinstance(exc, ServiceError):
        # The page shows errors per input: `locales.ja` belongs to the locale rows (the message names the locale).
        return {exc.field.split(".")[0]: [exc.message]}
    if hasattr(exc, "error_dict"):
        return {name: [str(m) for m in errors] for name, errors in exc.message_dict.items()}
    return {"non_field_errors": [str(m) for m in exc.messages]}


QUALITIES = [q.value for q in Quality]
SIZE_SUGGESTIONS = [f"{w}x{h}" for w, h in NAMED_SIZES]
