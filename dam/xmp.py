"""Put an XMP packet into PNG, JPEG and WebP files, and read it back, without re-encoding.

Stamping works on the container, never on the pixels: a provider's output keeps every
byte of its image data, and the same function serves originals and renditions whichever
engine encoded them. Where XMP goes, per the XMP specification part 3:

- PNG: an `iTXt` chunk with the keyword `XML:com.adobe.xmp`, right after `IHDR`;
- JPEG: an `APP1` segment starting `http://ns.adobe.com/xap/1.0/\\0`, after `SOI`/`APP0`;
- WebP: an `XMP ` chunk in the extended (`VP8X`) layout, with the XMP flag set.

An existing XMP packet is replaced, never duplicated. AVIF is written with XMP by its
encoder (ISO-BMFF metadata items are not worth hand-editing); reading it goes through Pillow.
"""

from __future__ import annotations

import io
import struct
import zlib

from PIL import Image

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
PNG_XMP_KEYWORD = b"XML:com.adobe.xmp"
JPEG_XMP_HEADER = b"http://ns.adobe.com/xap/1.0/\x00"
JPEG_EXTENDED_XMP_HEADER = b"http://ns.adobe.com/xmp/extension/\x00"
JPEG_MAX_SEGMENT = 65535 - 2  # the length field counts itself
WEBP_FLAG_XMP = 0x04
WEBP_FLAG_ALPHA = 0x10


class XmpError(ValueError):
    pass


def embed_xmp(data: bytes, image_format: str, packet: bytes) -> bytes:
    if image_format == "png":
        return _png_embed(data, packet)
    if image_format == "jpeg":
        return _jpeg_embed(data, packet)
    if image_format == "webp":
        return _webp_embed(data, packet)
    raise XmpError(f"cannot add XMP to {image_format} after encoding; pass it to the encoder")


def read_xmp(data: bytes) -> bytes | None:
    """The XMP packet embedded in PNG, JPEG, WebP or AVIF bytes, or None."""
    if data.startswith(PNG_SIGNATURE):
        return _png_read(data)
    if data.startswith(b"\xff\xd8"):
        return _jpeg_read(data)
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return _webp_read(data)
    with Image.open(io.BytesIO(data)) as image:
        xmp = image.info.get("xmp")
    return xmp.encode("utf-8") if isinstance(xmp, str) else xmp


# --- PNG ------------------------------------------------------------------------------


def _png_chunks(data: bytes):
    if not data.startswith(PNG_SIGNATURE):
        raise XmpError("not a PNG")
    offset = len(PNG_SIGNATURE)
    while offset + 12 <= len(data):
        (length,) = struct.unpack(">I", data[offset : offset + 4])
        kind = data[offset + 4 : offset + 8]
        end = offset + 12 + length
        if end > len(data):
            raise XmpError("truncated PNG chunk")
        yield kind, data[offset + 8 : offset + 8 + length], data[offset:end]
        offset = end
        if kind == b"IEND":
            return


def _png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)


def _is_png_xmp(kind: bytes, body: bytes) -> bool:
    return kind == b"iTXt" and body.startswith(PNG_XMP_KEYWORD + b"\x00")


def _png_embed(data: bytes, packet: bytes) -> bytes:
    # keyword, NUL, compression flag 0 (uncompressed: readers find it without inflating), method 0,
    # empty language tag and translated keyword, then the UTF-8 text.
    xmp_chunk = _png_chunk(b"iTXt", PNG_XMP_KEYWORD + b"\x00\x00\x00\x00\x00" + packet)
    out = [PNG_SIGNATURE]
    for kind, body, raw in _png_chunks(data):
        if _is_png_xmp(kind, body):
            continue
        out.append(raw)
        if kind == b"IHDR":
            out.append(xmp_chunk)
    return b"".join(out)


def _png_read(data: bytes) -> bytes | None:
    for kind, body, _ in _png_chunks(data):
        if _is_png_xmp(kind, body):
            rest = body[len(PNG_XMP_KEYWORD) + 1 :]
            compressed, _method = rest[0], rest[1]
            rest = rest[2:]
            rest = rest.split(b"\x00", 2)[2]  # skip the language tag and the translated keyword
            return zlib.decompress(rest) if compressed else rest
    return None


# --- JPEG -----------------------------------------------------------------------------


def _jpeg_segments(data: bytes):
    """(marker, body, raw) for each header segment up to the start of scan; then ('', rest, rest)."""
    if not data.startswith(b"\xff\xd8"):
        raise XmpError("not a JPEG")
    offset = 2
    while offset < len(data):
        if data[offset] != 0xFF:
            raise XmpError("corrupt JPEG marker")
        marker = data[offset + 1]
        if marker == 0xFF:  # fill byte
            offset += 1
            continue
        if 0xD0 <= marker <= 0xD7 or marker == 0x01:
            yield marker, b"", data[offset : offset + 2]
            offset += 2
            continue
        (length,) = struct.unpack(">H", data[offset + 2 : offset + 4])
        end = offset + 2 + length
        if marker == 0xDA:  # start of scan: entropy-coded data follows, copy the rest untouched
            yield None, b"", data[offset:]
            return
        yield marker, data[offset + 4 : end], data[offset:end]
        offset = end


def _is_jpeg_xmp(marker: int | None, body: bytes) -> bool:
    return marker == 0xE1 and body.startswith((JPEG_XMP_HEADER, JPEG_EXTENDED_XMP_HEADER))


def _jpeg_embed(data: bytes, packet: bytes) -> bytes:
    body = JPEG_XMP_HEADER + packet
    if len(body) + 2 > JPEG_MAX_SEGMENT:
        raise XmpError(f"XMP packet of {len(packet)} bytes does not fit one JPEG APP1 segment")
    segment = b"\xff\xe1" + struct.pack(">H", len(body) + 2) + body
    out = [b"\xff\xd8"]
    inserted = False
    for marker, seg_body, raw in _jpeg_segments(data):
        if _is_jpeg_xmp(marker, seg_body):
            continue
        if not inserted and marker != 0xE0:  # after JFIF APP0, which must come first
            out.append(segment)
            inserted = True
        out.append(raw)
    if not inserted:
        out.append(segment)
    return b"".join(out)


def _jpeg_read(data: bytes) -> bytes | None:
    for marker, body, _ in _jpeg_segments(data):
        if marker == 0xE1 and body.startswith(JPEG_XMP_HEADER):
            return body[len(JPEG_XMP_HEADER) :]
    return None


# --- WebP -----------------------------------------------------------------------------


def _webp_chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    if not (data[:4] == b"RIFF" and data[8:12] == b"WEBP"):
        raise XmpError("not a WebP")
    chunks = []
    offset = 12
    while offset + 8 <= len(data):
        kind = data[offset : offset + 4]
        (size,) = struct.unpack("<I", data[offset + 4 : offset + 8])
        if offset + 8 + size > len(data):
            raise XmpError("truncated WebP chunk")
        chunks.append((kind, data[offset + 8 : offset + 8 + size]))
        offset += 8 + size + (size & 1)
    return chunks


def _webp_chunk(kind: bytes, body: bytes) -> bytes:
    return kind + struct.pack("<I", len(body)) + body + (b"\x00" if len(body) & 1 else b"")


def _webp_canvas(chunks: list[tuple[bytes, bytes]]) -> tuple[int, int, bool]:
    """Width, height and alpha of a simple (VP8/VP8L) WebP, from its bitstream header."""
    kinds = dict(chunks)
    if b"VP8L" in kinds:
        body = kinds[b"VP8L"]
        if body[:1] != b"\x2f":
            raise XmpError("bad VP8L signature")
        (bits,) = struct.unpack("<I", body[1:5])
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1, bool((bits >> 28) & 1)
    if b"VP8 " in kinds:
        body = kinds[b"VP8 "]
        if body[3:6] != b"\x9d\x01\x2a":
            raise XmpError("bad VP8 start code")
        width, height = struct.unpack("<HH", body[6:10])
        return width & 0x3FFF, height & 0x3FFF, b"ALPH" in kinds
    raise XmpError("WebP without image data")


def _webp_embed(data: bytes, packet: bytes) -> bytes:
    chunks = [(kind, body) for kind, body in _webp_chunks(data) if kind != b"XMP "]
    if chunks and chunks[0][0] == b"VP8X":
        header = bytearray(chunks[0][1])
        header[0] |= WEBP_FLAG_XMP
        chunks[0] = (b"VP8X", bytes(header))
    else:
        width, height, alpha = _webp_canvas(chunks)
        flags = WEBP_FLAG_XMP | (WEBP_FLAG_ALPHA if alpha else 0)
        vp8x = bytes([flags, 0, 0, 0]) + (width - 1).to_bytes(3, "little") + (height - 1).to_bytes(3, "little")
        chunks.insert(0, (b"VP8X", vp8x))
    chunks.append((b"XMP ", packet))  # the container spec places XMP last
    body = b"WEBP" + b"".join(_webp_chunk(kind, content) for kind, content in chunks)
    return b"RIFF" + struct.pack("<I", len(body)) + body


def _webp_read(data: bytes) -> bytes | None:
    for kind, body in _webp_chunks(data):
        if kind == b"XMP ":
            return body
    return None
