"""What a file is, from its first bytes: never from its name or a Content-Type header."""

from __future__ import annotations

# The formats the library stores (and the renderer decodes).
STORED_FORMATS = ("png", "jpeg", "webp", "avif")

_AVIF_BRANDS = (b"avif", b"avis")


def sniff_format(data: bytes) -> str | None:
    """'png', 'jpeg', 'webp' or 'avif' when the bytes start like one; None otherwise."""
    head = data[:32]
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    if head[4:8] == b"ftyp" and head[8:12] in _AVIF_BRANDS:
        return "avif"
    return None


def describe_refused(data: bytes) -> str:
    """A name for what a refused file looks like, for the error message."""
    head = data[:1024].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if head.startswith((b"gif87a", b"gif89a")):
        return "GIF"
    if head.startswith((b"%!ps", b"\xc5\xd0\xd3\xc6")):
        return "EPS/PostScript"
    if head.startswith(b"%pdf"):
        return "PDF"
    if b"<svg" in head or (head.startswith(b"<?xml") and b"svg" in head):
        return "SVG"
    if head.startswith((b"<!doctype html", b"<html", b"<script")):
        return "HTML"
    if head.startswith((b"ii*\x00", b"mm\x00*")):
        return "TIFF"
    if head.startswith(b"bm"):
        return "BMP"
    if head[4:8] == b"ftyp":
        return "HEIF/ISO media"
    return "an unknown type"
