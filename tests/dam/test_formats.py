"""The format table (dam.formats) is the one place image formats are spelled out; what must agree with it does."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from dam.formats import FORMATS, GENERATED_FORMATS, UPLOAD_FORMATS, labels, sniff_format
from dam.imaging import pillow_save
from dam.models import ImageFormat
from generation.requests import OUTPUT_FORMATS
from tenants.models import OutputFormat


@pytest.mark.parametrize("name", list(FORMATS))
def test_each_format_encodes_to_bytes_that_sniff_and_open_as_itself(name):
    data = pillow_save(Image.new("RGBA", (8, 6), (10, 20, 30, 128)), image_format=name, quality=50)
    assert sniff_format(data) == name
    with Image.open(io.BytesIO(data), formats=[FORMATS[name].pil_format]) as opened:
        assert opened.size == (8, 6)


def test_the_models_choices_are_the_tables():
    assert ImageFormat.choices == [(f.name, f.label) for f in FORMATS.values()]
    # tenants sits below dam and cannot read the table: a placement's and a brand policy's output
    # formats are the formats a job may ask for, with the same labels.
    assert OutputFormat.choices == [(name, FORMATS[name].label) for name in GENERATED_FORMATS]
    assert OUTPUT_FORMATS == GENERATED_FORMATS


def test_lossy_formats_have_a_default_quality_and_png_has_none():
    for f in FORMATS.values():
        assert (f.default_quality is not None) == f.lossy
        assert f.content_type == f"image/{f.name}"


def test_labels_name_the_formats_for_people():
    assert labels() == "PNG, JPEG, WebP or AVIF"
    assert labels(UPLOAD_FORMATS) == "PNG, JPEG or WebP"
