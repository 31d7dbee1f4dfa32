"""The filter-spec language of renditions, in Wagtail's spirit.

A spec is operations joined by `|`, for example `fill-800x600-c50|format-webp|quality-80`:

- one resize operation (optional; none keeps the source size):
  `width-N`, `height-N` (scale to that edge), `max-WxH` (fit inside), `min-WxH` (cover),
  `fill-WxH[-cN]` (crop to the aspect around the focal point, then scale to exactly WxH;
  `cN`, 0-100, zooms the crop towards the focal point), `original`;
- `format-png|jpeg|webp|avif` (`jpg` is accepted for `jpeg`); none keeps the source's format;
- `quality-N`, 1-100, for the lossy formats.

`width`, `height`, `max` and `min` never enlarge an image; `fill` always yields exactly WxH,
because a placement's slot has fixed pixels. Every spec has one canonical text
(`FilterSpec.canonical`): the allow-list, the unique key of a rendition and its URL all use it,
so `format-webp|width-400` and `width-400|format-webp` are the same rendition.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from dam.formats import FORMATS, LOSSY_FORMATS, STORED_FORMATS

MAX_EDGE = 16384  # the largest placement edge a tenant may define
MAX_OUTPUT_PIXELS = 40_000_000  # an 8K x 5K rendition; bounds the memory of one render
MAX_SPEC_LENGTH = 200  # Rendition.spec's column
FORMAT_ALIASES = {"jpg": "jpeg"}
RESIZE_OPERATIONS = ("original", "width", "height", "max", "min", "fill")

_SIZE = r"(?P<w>[0-9]{1,5})x(?P<h>[0-9]{1,5})"
_PATTERNS = {
    "original": re.compile(r"original"),
    "width": re.compile(r"width-(?P<w>[0-9]{1,5})"),
    "height": re.compile(r"height-(?P<h>[0-9]{1,5})"),
    "max": re.compile(rf"max-{_SIZE}"),
    "min": re.compile(rf"min-{_SIZE}"),
    "fill": re.compile(rf"fill-{_SIZE}(?:-c(?P<c>[0-9]{{1,3}}))?"),
    "format": re.compile(r"format-(?P<format>[a-z]+)"),
    "quality": re.compile(r"quality-(?P<q>[0-9]{1,3})"),
}


class SpecError(ValueError):
    """A spec that does not parse; the message says which operation and why."""


@dataclass(frozen=True)
class FilterSpec:
    operation: str = "original"
    width: int | None = None
    height: int | None = None
    closeness: int = 0
    format: str | None = None
    quality: int | None = None

    @property
    def canonical(self) -> str:
        parts: list[str] = []
        if self.operation == "width":
            parts.append(f"width-{self.width}")
        elif self.operation == "height":
            parts.append(f"height-{self.height}")
        elif self.operation in ("max", "min"):
            parts.append(f"{self.operation}-{self.width}x{self.height}")
        elif self.operation == "fill":
            parts.append(f"fill-{self.width}x{self.height}" + (f"-c{self.closeness}" if self.closeness else ""))
        if self.format:
            parts.append(f"format-{self.format}")
        if self.quality is not None:
            parts.append(f"quality-{self.quality}")
        return "|".join(parts) or "original"

    def __str__(self) -> str:
        return self.canonical

    def output_format(self, source_format: str) -> str:
        return self.format or source_format

    def output_quality(self, source_format: str) -> int | None:
        image_format = self.output_format(source_format)
        if image_format not in LOSSY_FORMATS:
            return None
        return self.quality if self.quality is not None else FORMATS[image_format].default_quality

    @property
    def uses_focal_point(self) -> bool:
        return self.operation == "fill"

    def with_format(self, image_format: str) -> FilterSpec:
        """The same geometry in another format (format negotiation); quality resets to that format's default."""
        if image_format not in FORMATS:
            raise SpecError(f"format-{image_format}: unknown format; use one of {', '.join(STORED_FORMATS)}")
        return replace(self, format=image_format, quality=None)


def _number(text: str, *, what: str, low: int, high: int, operation: str) -> int:
    value = int(text)
    if not low <= value <= high:
        raise SpecError(f"{operation}: {what} must be from {low} to {high}")
    return value


def parse_spec(text: str) -> FilterSpec:
    """Parse and validate a spec; raises `SpecError` naming the offending operation."""
    if not isinstance(text, str) or not text.strip():
        raise SpecError("empty spec")
    if len(text) > MAX_SPEC_LENGTH:
        raise SpecError(f"a spec has at most {MAX_SPEC_LENGTH} characters")
    fields: dict[str, object] = {}
    seen: set[str] = set()
    for raw in text.strip().split("|"):
        operation = raw.strip().lower()
        kind = next((name for name, pattern in _PATTERNS.items() if pattern.fullmatch(operation)), None)
        if kind is None:
            raise SpecError(
                f"{operation or '(empty)'}: unknown operation; use width-, height-, max-, min-, fill-, "
                "original, format- or quality-"
            )
        group = "resize" if kind in RESIZE_OPERATIONS else kind
        if group in seen:
            raise SpecError(f"{operation}: only one {group} operation per spec")
        seen.add(group)
        match = _PATTERNS[kind].fullmatch(operation)
        assert match is not None
        values = match.groupdict()
        if kind == "format":
            image_format = FORMAT_ALIASES.get(values["format"], values["format"])
            if image_format not in FORMATS:
                raise SpecError(f"{operation}: unknown format; use one of {', '.join(STORED_FORMATS)}")
            fields["format"] = image_format
        elif kind == "quality":
            fields["quality"] = _number(values["q"], what="quality", low=1, high=100, operation=operation)
        else:
            fields["operation"] = kind
            if values.get("w") is not None:
                fields["width"] = _number(values["w"], what="width", low=1, high=MAX_EDGE, operation=operation)
            if values.get("h") is not None:
                fields["height"] = _number(values["h"], what="height", low=1, high=MAX_EDGE, operation=operation)
            if values.get("c") is not None:
                fields["closeness"] = _number(values["c"], what="closeness", low=0, high=100, operation=operation)
    spec = FilterSpec(**fields)  # type: ignore[arg-type]
    if spec.format == "png" and spec.quality is not None:
        raise SpecError("quality-: PNG is lossless; quality applies to jpeg, webp and avif")
    if spec.operation in ("max", "min", "fill") and spec.width * spec.height > MAX_OUTPUT_PIXELS:  # type: ignore[operator]
        raise SpecError(f"{spec.operation}: at most {MAX_OUTPUT_PIXELS:,} output pixels")
    return spec


def canonical_spec(text: str) -> str:
    return parse_spec(text).canonical
