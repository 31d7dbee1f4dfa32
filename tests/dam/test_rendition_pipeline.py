"""Rendering: both engines cut the same pixels, every format decodes to the planned size, XMP is embedded."""

from __future__ import annotations

import io

import pytest
from PIL import Image, ImageChops, ImageStat

from dam.renditions.engines import engine
from dam.renditions.pipeline import OPERATION_ENGINES, OPERATIONS, Renderer, SourceUnreadable, render_spec
from dam.renditions.presets import PRESET_SPECS
from dam.renditions.spec import parse_spec
from dam.xmp import read_xmp
from tests.factories import RED, encode, marked_image

XMP = b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"/></x:xmpmeta>'
ALL_PILLOW = dict.fromkeys(OPERATIONS, "pillow")
ALL_VIPS = dict.fromkeys(OPERATIONS, "pyvips")


def decode(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def test_libvips_is_installed_because_the_chosen_pipeline_uses_it():
    assert "pyvips" in OPERATION_ENGINES.values()
    assert engine("pyvips").name == "pyvips"


@pytest.mark.parametrize("choices", [ALL_PILLOW, ALL_VIPS, OPERATION_ENGINES], ids=["pillow", "pyvips", "chosen"])
@pytest.mark.parametrize("spec", [*PRESET_SPECS, "fill-970x250|format-png", "min-300x300|format-jpeg|quality-60"])
def test_every_engine_mix_renders_every_spec_to_the_planned_size_and_format_with_xmp(choices, spec):
    source = encode(marked_image(1920, 1080))
    renderer = Renderer(choices)
    rendition = renderer.render(renderer.decode(source), parse_spec(spec), focal=(0.8, 0.3), xmp=XMP)
    image = decode(rendition.data)
    assert (image.width, image.height) == (rendition.width, rendition.height)
    assert image.format.lower() == rendition.format == parse_spec(spec).format
    expected = {"fill-400x400|format-webp": (400, 400), "width-800|format-webp": (800, 450)}
    if spec in expected:
        assert image.size == expected[spec]
    assert read_xmp(rendition.data) == XMP
    assert image.info.get("xmp", b"").strip(b"\x00 ") in (XMP, XMP.decode())


def _red_centre(image: Image.Image) -> tuple[float, float]:
    """Centre of mass of the red disc, as fractions of the image."""
    rgb = image.convert("RGB")
    red = ImageChops.subtract(rgb.getchannel("R"), rgb.getchannel("G")).point(lambda v: 255 if v > 120 else 0)
    box = red.getbbox()
    assert box is not None, "the red mark is not in the crop"
    return (box[0] + box[2]) / 2 / image.width, (box[1] + box[3]) / 2 / image.height


@pytest.mark.parametrize("choices", [ALL_PILLOW, ALL_VIPS], ids=["pillow", "pyvips"])
def test_a_fill_crop_centres_on_the_focal_point(choices):
    source = encode(marked_image(1600, 900, mark=(0.4, 0.5), radius=30))
    renderer = Renderer(choices)
    spec = parse_spec("fill-300x300-c100|format-png")
    zoomed = renderer.render(renderer.decode(source), spec, focal=(0.4, 0.5), xmp=None)
    x, y = _red_centre(decode(zoomed.data))
    assert abs(x - 0.5) < 0.03 and abs(y - 0.5) < 0.03
    # Without the focal point the centre crop still contains the mark, but off-centre.
    centred = renderer.render(renderer.decode(source), spec, focal=None, xmp=None)
    assert ImageStat.Stat(decode(centred.data).convert("RGB")).mean[0] < 200  # no red disc at the centre


def test_a_focal_point_near_the_edge_pushes_the_crop_back_inside_and_keeps_the_mark():
    source = encode(marked_image(1600, 900, mark=(0.95, 0.1), radius=30))
    rendition = render_spec(source, parse_spec("fill-400x400|format-png"), focal=(0.95, 0.1))
    x, y = _red_centre(decode(rendition.data))
    assert x > 0.75 and y < 0.25  # at the image's corner, not cut off


def test_the_engines_agree_on_the_pixels():
    source = encode(marked_image(1920, 1080))
    spec = parse_spec("fill-640x480-c30|format-png")
    outputs = [
        decode(Renderer(choices).render(Renderer(choices).decode(source), spec, focal=(0.7, 0.4), xmp=None).data)
        for choices in (ALL_PILLOW, ALL_VIPS)
    ]
    difference = ImageStat.Stat(ImageChops.difference(*[image.convert("RGB") for image in outputs]))
    assert max(difference.mean) < 2.0  # same crop, same Lanczos kernel: only rounding differs


@pytest.mark.parametrize("choices", [ALL_PILLOW, ALL_VIPS], ids=["pillow", "pyvips"])
def test_transparency_survives_png_and_webp_and_becomes_white_in_jpeg(choices):
    image = Image.new("RGBA", (400, 200), (0, 0, 0, 0))
    image.paste((*RED, 255), (150, 50, 250, 150))
    source = encode(image)
    renderer = Renderer(choices)
    decoded = renderer.decode(source)
    for image_format in ("png", "webp"):
        out = decode(
            renderer.render(decoded, parse_spec(f"width-200|format-{image_format}"), focal=None, xmp=None).data
        )
        assert out.mode == "RGBA" and out.getpixel((2, 2))[3] == 0 and out.getpixel((100, 50))[3] == 255
    jpeg = decode(renderer.render(decoded, parse_spec("width-200|format-jpeg"), focal=None, xmp=None).data)
    assert jpeg.mode == "RGB" and min(jpeg.getpixel((2, 2))) > 245


def test_orientation_is_applied_and_the_sources_metadata_is_not_carried_over():
    photo = marked_image(600, 400)
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise on display
    exif[0x8825] = {2: (48.0, 51.0, 24.0)}  # a GPS latitude
    source = encode(photo, "JPEG", exif=exif.tobytes(), quality=90)
    for choices in (ALL_PILLOW, ALL_VIPS):
        renderer = Renderer(choices)
        rendition = renderer.render(renderer.decode(source), parse_spec("width-200|format-jpeg"), focal=None, xmp=XMP)
        out = decode(rendition.data)
        assert out.size == (200, 300)  # portrait: the orientation was applied to the pixels
        assert not out.getexif(), choices
        assert b"Exif\x00\x00" not in rendition.data


def test_only_library_formats_are_decoded():
    gif = io.BytesIO()
    Image.new("RGB", (10, 10)).save(gif, format="GIF")
    with pytest.raises(SourceUnreadable):
        Renderer().decode(gif.getvalue())
    with pytest.raises(SourceUnreadable):
        Renderer().decode(b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>')
