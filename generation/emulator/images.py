"""Image bytes for generations and edits: the composition, the quoted text, the emulator mark, the encoding.

Pure functions of their arguments (no clock, no global random state), so the same request gives the same
bytes. CPU-bound: the app runs them in a worker thread.
"""

from __future__ import annotations

import functools
import io
import random
import struct
import zlib
from dataclasses import dataclass

from PIL import Image, ImageDraw, ImageOps

from generation.emulator import text
from generation.emulator.composition import Composition, Palette, compose, luminance, seed_for
from generation.emulator.text_faults import TextFault, faulted_copy

MARK_TEXT = "EMULATOR"
# OpenAI's output_compression (0-100, default 100) is the encoder's quality; Pillow advises at most 95 for JPEG.
JPEG_MAX_QUALITY = 95
PNG_COMPRESS_LEVEL = 3  # zlib level: 6 (Pillow's default) triples the time of a 4K PNG for ~10% fewer bytes


@dataclass(frozen=True)
class RenderSpec:
    prompt: str
    width: int
    height: int
    quality: str  # low | medium | high (auto already resolved)
    output_format: str  # png | jpeg | webp
    output_compression: int | None
    transparent: bool
    text_fault: str | None = None  # a TextFault value: the copy drawn wrong on purpose


# off_palette: colours no brand palette is near (pure magenta ground, pure green card, black ink).
OFF_PALETTE_GROUND = (255, 0, 255)
OFF_PALETTE_CARD = (0, 255, 0)
OFF_PALETTE_INK = (0, 0, 0)
TINY_SHARE = 0.012  # tiny: the copy's font size as a share of the short side


def _seed(spec: RenderSpec, index: int, kind: str) -> int:
    # The scene comes from the prompt without its quoted text: localized variants of one brief ("..." in
    # six languages) share the picture and differ in the text, as a campaign's regional versions do.
    scene = text.QUOTED.sub('""', spec.prompt)
    return seed_for(kind, scene, spec.quality, spec.transparent, index)


def _text_colors(palette: Palette) -> tuple[tuple[int, int, int, int], tuple[int, int, int, int]]:
    """(card, ink): a dark card with light ink, or the reverse for palettes whose darkest colour is light."""
    if luminance(palette.darkest) < 0.35:
        return (*palette.darkest, 205), (*palette.lightest, 255)
    return (*palette.lightest, 215), (20, 20, 24, 255)


def draw_quoted_text(
    image: Image.Image,
    quotes: list[str],
    palette: Palette,
    rng: random.Random,
    *,
    region: tuple[int, int, int, int] | None = None,
    fault: TextFault | None = None,
) -> tuple[int, int, int, int] | None:
    """Set the prompt's quoted texts on a card: the first as the headline, the others as smaller lines.
    `region` (default: the whole image) is where the card must fit, e.g. the editable area of a mask.
    `fault`: the layout faults (tiny, crop_cut, off_palette) change the size, place or colours of the card; the
    string faults are already in `quotes`. Returns the card's box (left, top, right, bottom), None without text."""
    if not quotes:
        return None
    left, top, right, bottom = region or (0, 0, *image.size)
    width, height = right - left, bottom - top
    max_width = width * 0.78
    tiny = fault == TextFault.TINY
    size = max(8, round(min(width, height) * TINY_SHARE)) if tiny else max(12, int(min(width, height) * 0.11))
    while True:
        lines = text.wrap(quotes[0], size=size, weight="Bold", max_width=max_width)
        sub_size = size if tiny else max(10, int(size * 0.5))
        for quote in quotes[1:]:
            lines += text.wrap(quote, size=sub_size, weight="Regular", max_width=max_width)
        heights = [sum(text.line_metrics(line)) for line in lines]
        widest = max(line.width() for line in lines)
        headline_lines = sum(1 for line in lines if line.weight == "Bold")
        if tiny or size <= 12 or (headline_lines <= 3 and sum(heights) * 1.15 <= height * 0.55 and widest <= max_width):
            break
        size = int(size * 0.88)

    pad = int(size * 0.55)
    gap = int(size * 0.15)
    card_w = int(widest + 2 * pad)
    card_h = int(sum(heights) + gap * (len(lines) - 1) + 2 * pad + size * 0.2)
    text_h = card_h
    x0 = left + (width - card_w) // 2
    y0 = top + int(max(0, height - card_h) * rng.choice((0.18, 0.5, 0.78)))
    if fault == TextFault.CROP_CUT:
        x0, y0, card_w, card_h = _crop_cut_card(region=(left, top, width, height), card=(x0, y0, card_w, card_h))
    card_fill, ink = _text_colors(palette)
    if fault == TextFault.OFF_PALETTE:
        card_fill, ink = (*OFF_PALETTE_CARD, 255), (*OFF_PALETTE_INK, 255)
    overlay = Image.new("RGBA", image.size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(overlay)
    draw.rounded_rectangle((x0, y0, x0 + card_w, y0 + card_h), radius=pad, fill=card_fill)
    image.alpha_composite(overlay)

    draw = ImageDraw.Draw(image)
    accent = (*palette.colors[2], 255)
    y = y0 + pad + (card_h - text_h) // 2
    for line, line_height in zip(lines, heights, strict=True):
        ascent, _ = text.line_metrics(line)
        line_x = x0 + (card_w - line.width()) / 2
        text.draw_line(draw, line, x=line_x, baseline=y + ascent, fill=ink)
        y += line_height + gap
        if line.weight == "Bold" and line is lines[headline_lines - 1] and len(lines) > headline_lines:
            bar = max(2, size // 14)
            draw.rectangle(
                (x0 + card_w / 2 - size, y - gap / 2 - bar / 2, x0 + card_w / 2 + size, y - gap / 2 + bar / 2),
                fill=accent,
            )
            y += bar
    return x0, y0, x0 + card_w, y0 + card_h


# The placements a generation at the model's widest (3:1) or tallest (1:3) aspect is cut to: the IAB leaderboard
# (970x250) and wide skyscraper (160x600), beyond what the model makes, so the platform crops them.
LEADERBOARD = (970, 250)
SKYSCRAPER = (160, 600)


def crop_cut_line(width: int, height: int) -> tuple[str, int]:
    """Where the usual centre crop of a `width` x `height` picture to another aspect starts cutting: a landscape
    picture's square crop drops its left (and right) (width - height) / 2 px, a portrait picture's its top
    (height - width) / 2 px, a square picture's 16:9 crop its top (height - width * 9 / 16) / 2 px. A picture at
    the model's widest aspect (3:1) is cut to a leaderboard: its top (height - width * 250 / 970) / 2 px; at the
    tallest (1:3) to a skyscraper: its left (width - height * 160 / 600) / 2 px (the crops the platform's size
    plans make)."""
    if width >= 3 * height - 16:
        return "top", round(height - width * LEADERBOARD[1] / LEADERBOARD[0]) // 2
    if height >= 3 * width - 16:
        return "left", round(width - height * SKYSCRAPER[0] / SKYSCRAPER[1]) // 2
    if width > height:
        return "left", (width - height) // 2
    if height > width:
        return "top", (height - width) // 2
    return "top", round(height - width * 9 / 16) // 2


def _crop_cut_card(*, region: tuple[int, int, int, int], card: tuple[int, int, int, int]) -> tuple[int, int, int, int]:
    """crop_cut: the card hugs the edge `crop_cut_line` names and is stretched so the
    copy, centred on the card, is centred on the crop line: the centre crop to another aspect cuts through it."""
    left, top, width, height = region
    x0, y0, card_w, card_h = card
    edge, line = crop_cut_line(width, height)
    if edge == "left":
        return left, y0, min(width, max(card_w, 2 * line)), card_h
    return x0, top, card_w, min(height, max(card_h, 2 * line))


def off_palette_composition(*, seed: int, width: int, height: int, transparent: bool) -> Composition:
    """off_palette: a pure magenta ground with a few pure green discs, far from any brand's colours."""
    rng = random.Random(seed)
    image = Image.new("RGBA", (width, height), (0, 0, 0, 0) if transparent else (*OFF_PALETTE_GROUND, 255))
    draw = ImageDraw.Draw(image)
    unit = min(width, height)
    for _ in range(3):
        r = unit * rng.uniform(0.08, 0.2)
        x, y = rng.uniform(0, width), rng.uniform(0, height)
        draw.ellipse((x - r, y - r, x + r, y + r), fill=(*OFF_PALETTE_CARD, 255))
    palette = Palette((OFF_PALETTE_INK, OFF_PALETTE_GROUND, OFF_PALETTE_CARD, OFF_PALETTE_CARD, (255, 255, 255)))
    return Composition(image, palette, "off_palette")


def faulted_quotes(quotes: list[str], fault: TextFault | None, seed: int) -> list[str]:
    """The quotes with the headline (the copy) changed by a string fault; which character is drawn from the
    picture's seed, so the same request draws the same mistake."""
    if not quotes or fault is None:
        return quotes
    return [faulted_copy(quotes[0], fault, random.Random(seed_for("text-fault", seed))), *quotes[1:]]


def quotes_as_drawn(spec: RenderSpec, index: int = 0) -> list[str]:
    """The quoted texts as `render_generation(spec, index)` draws them (with its text fault): what a reader
    of the picture should find, for tests and the OCR benchmark."""
    fault = TextFault(spec.text_fault) if spec.text_fault else None
    return faulted_quotes(text.quoted_texts(spec.prompt), fault, _seed(spec, index, "generation"))


def draw_mark(image: Image.Image, *, region: tuple[int, int, int, int] | None = None) -> None:
    """The small visible "EMULATOR" pill, in the bottom-right corner of `region` (default: the whole image)."""
    left, top, right, bottom = region or (0, 0, *image.size)
    size = max(11, round(min(image.size) * 0.02))
    font = text.load_font(text.FACES[text.Script.LATIN], size, "Bold")
    length = font.getlength(MARK_TEXT)
    pad = size // 2
    margin = size
    x1, y1 = right - margin, bottom - margin
    x0, y0 = x1 - length - 2 * pad, y1 - size - 2 * pad
    if x0 < left or y0 < top:  # a region smaller than the mark: put it at the region's corner anyway
        x0, y0 = max(0, right - length - 2 * pad), max(0, bottom - size - 2 * pad)
        x1, y1 = x0 + length + 2 * pad, y0 + size + 2 * pad
    # An overlay of the pill's own size: compositing a full-size one cost more than the rest at 4K.
    box = (int(x0), int(y0), min(image.size[0], int(x1) + 1), min(image.size[1], int(y1) + 1))
    overlay = Image.new("RGBA", (box[2] - box[0], box[3] - box[1]), (0, 0, 0, 0))
    draw = ImageDraw.Draw(overlay)
    draw.rounded_rectangle((x0 - box[0], y0 - box[1], x1 - box[0], y1 - box[1]), radius=pad, fill=(0, 0, 0, 150))
    centre = ((x0 + x1) / 2 - box[0], (y0 + y1) / 2 - box[1])
    draw.text(centre, MARK_TEXT, font=font, fill=(255, 255, 255, 235), anchor="mm")
    image.alpha_composite(overlay, box[:2])


def encode(image: Image.Image, *, output_format: str, compression: int | None, transparent: bool) -> bytes:
    buffer = io.BytesIO()
    quality = 100 if compression is None else compression
    if output_format == "png":
        (image if transparent else image.convert("RGB")).save(buffer, "PNG", compress_level=PNG_COMPRESS_LEVEL)
    elif output_format == "jpeg":
        image.convert("RGB").save(buffer, "JPEG", quality=max(1, min(JPEG_MAX_QUALITY, quality)))
    elif output_format == "webp":
        (image if transparent else image.convert("RGB")).save(buffer, "WEBP", quality=quality, method=2)
    else:
        raise ValueError(f"unsupported output format {output_format!r}")
    return buffer.getvalue()


def render_generation(spec: RenderSpec, index: int) -> bytes:
    seed = _seed(spec, index, "generation")
    fault = TextFault(spec.text_fault) if spec.text_fault else None
    if fault == TextFault.OFF_PALETTE:
        composition = off_palette_composition(
            seed=seed, width=spec.width, height=spec.height, transparent=spec.transparent
        )
    else:
        composition = compose(
            seed=seed, width=spec.width, height=spec.height, quality=spec.quality, transparent=spec.transparent
        )
    image = composition.image
    quotes = faulted_quotes(text.quoted_texts(spec.prompt), fault, seed)
    draw_quoted_text(image, quotes, composition.palette, random.Random(seed), fault=fault)
    draw_mark(image)
    return encode(
        image, output_format=spec.output_format, compression=spec.output_compression, transparent=spec.transparent
    )


# Plain pictures come in a few flat colours, each drawn and encoded once per size and format; what makes two
# prompts' files differ is a comment naming the prompt's seed (JPEG COM segment, PNG tEXt chunk).
PLAIN_COLOURS = 16


@functools.lru_cache(maxsize=128)
def _plain_picture(
    width: int, height: int, output_format: str, *, compression: int | None, transparent: bool, colour: int
) -> bytes:
    shade = (colour * 0x9E3779B1) & 0xFFFFFF  # spread the indices over the colour cube
    image = Image.new("RGBA", (width, height), (*(shade >> shift & 0xFF for shift in (0, 8, 16)), 255))
    draw_mark(image)
    return encode(image, output_format=output_format, compression=compression, transparent=transparent)


def _with_comment(data: bytes, output_format: str, comment: bytes) -> bytes | None:
    """`data` with `comment` added as metadata (the pixels untouched), or None for a format without a place."""
    if output_format == "jpeg":  # COM segment right after SOI
        return data[:2] + b"\xff\xfe" + struct.pack(">H", len(comment) + 2) + comment + data[2:]
    if output_format == "png":  # tEXt chunk right after the 8-byte signature and the 25-byte IHDR chunk
        body = b"Comment\x00" + comment
        chunk = struct.pack(">I", len(body)) + b"tEXt" + body + struct.pack(">I", zlib.crc32(b"tEXt" + body))
        return data[:33] + chunk + data[33:]
    return None


def render_plain(spec: RenderSpec, index: int) -> bytes:
    """One of PLAIN_COLOURS flat colours chosen by the prompt's seed and the mark, with the seed in the file's
    metadata (distinct bytes per prompt, so content addressing dedupes nothing): well under a millisecond once a
    size's pictures are made. WebP has no comment to carry the seed: its pictures are drawn each time."""
    seed = _seed(spec, index, "generation")
    picture = _plain_picture(
        spec.width,
        spec.height,
        spec.output_format,
        compression=spec.output_compression,
        transparent=spec.transparent,
        colour=seed % PLAIN_COLOURS,
    )
    stamped = _with_comment(picture, spec.output_format, b"seed %d" % seed)
    if stamped is not None:
        return stamped
    image = Image.new("RGBA", (spec.width, spec.height), (*(seed >> shift & 0xFF for shift in (0, 8, 16)), 255))
    for bit in range(min(64, spec.width)):
        if seed >> bit & 1:
            image.putpixel((bit, 0), (255, 255, 255, 255))
    draw_mark(image)
    return encode(
        image, output_format=spec.output_format, compression=spec.output_compression, transparent=spec.transparent
    )


def editable_area(mask: Image.Image, size: tuple[int, int]) -> Image.Image:
    """The mask as OpenAI documents it: fully transparent pixels are edited, opaque ones kept ('L', 255 = edit)."""
    alpha = mask.convert("RGBA").getchannel("A")
    if alpha.size != size:
        alpha = alpha.resize(size, Image.Resampling.NEAREST)
    return ImageOps.invert(alpha)


def render_edit(spec: RenderSpec, index: int, *, images: list[Image.Image], mask: Image.Image | None) -> bytes:
    """A visibly changed version of the first input: colour-graded toward the prompt's palette, with its shapes,
    the other inputs as inset references, the quoted text and the mark; only where the mask allows."""
    seed = _seed(spec, index, "edit")
    size = (spec.width, spec.height)
    base = images[0].convert("RGBA")
    if base.size != size:
        base = ImageOps.fit(base, size, Image.Resampling.BICUBIC)
    shapes = compose(seed=seed, width=spec.width, height=spec.height, quality=spec.quality, transparent=True)
    palette = shapes.palette

    tint = Image.new("RGBA", size, (*palette.colors[1], 255))
    modified = Image.blend(base, tint, 0.35)
    modified.putalpha(base.getchannel("A"))
    faded = shapes.image.copy()
    faded.putalpha(shapes.image.getchannel("A").point(lambda a: a * 3 // 5))
    modified.alpha_composite(faded)
    for k, reference in enumerate(images[1:4]):
        thumb = ImageOps.contain(reference.convert("RGBA"), (spec.width // 5, spec.height // 5))
        margin = min(size) // 30
        modified.alpha_composite(thumb, (margin + k * (spec.width // 5 + margin), margin))
    area = editable_area(mask, size) if mask is not None else None
    # Text and mark go where the mask lets the edit show; without a mask, anywhere.
    region = area.point(lambda v: 255 if v >= 128 else 0).getbbox() if area is not None else None
    fault = TextFault(spec.text_fault) if spec.text_fault else None
    quotes = faulted_quotes(text.quoted_texts(spec.prompt), fault, seed)
    draw_quoted_text(modified, quotes, palette, random.Random(seed), region=region, fault=fault)
    draw_mark(modified, region=region)
    result = modified if area is None else Image.composite(modified, base, area)
    return encode(
        result, output_format=spec.output_format, compression=spec.output_compression, transparent=spec.transparent
    )
