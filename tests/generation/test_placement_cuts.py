"""A placement cut from a generated output is encoded as the same placement's rendition from the original is."""

from __future__ import annotations

import io
from types import SimpleNamespace

import pytest
from PIL import Image

from dam.blobs import blob_put, blob_read
from dam.credentials.signing import manifest_json
from dam.imaging import derive
from dam.provenance import ProvenanceRecord, provenance_stamp, read_provenance
from dam.renditions.presets import placement_filter
from generation.planning.plan import plan_sizes
from generation.services.outputs import prepare_renditions
from tests.factories import png_bytes

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(("output_format", "compression"), [("webp", 0), ("webp", 70), ("jpeg", 85), ("png", 0)])
def test_a_generated_placement_cut_takes_the_placement_renditions_quality(tenant_a, output_format, compression):
    plan = plan_sizes(placements=[("tile", 300, 200)], quality="low")
    group = plan.groups[0]
    output = png_bytes(group.size.width, group.size.height)
    key = blob_put(tenant_id=tenant_a.pk, kind="originals", data=output, image_format="png").key
    job = SimpleNamespace(
        tenant_id=tenant_a.pk,
        size_plan=plan.to_dict(),
        placements=[{"slug": "tile", "output_format": output_format, "compression": compression}],
    )
    record = ProvenanceRecord(source_type="trainedAlgorithmicMedia")

    unit = SimpleNamespace(group_index=0)
    (cut,) = prepare_renditions(job=job, unit=unit, output_ref={"key": key}, provenance=record)

    # The quality the rendition path gives the same placement (`quality-N`, never below 1; none for PNG).
    spec = placement_filter(width=300, height=200, output_format=output_format, compression=compression)
    steps = group.placements[0].steps()
    expected = derive(output, steps, image_format=output_format, quality=spec.output_quality("png"))
    stored = blob_read(cut.blob.key)
    # The cut is signed (a C2PA manifest with fresh ids, so not byte-equal): the same pixels and XMP as the
    # rendition path's encode, and the manifest opens the output as its parent.
    unsigned = provenance_stamp(expected.data, image_format=output_format, record=record)
    assert Image.open(io.BytesIO(stored)).tobytes() == Image.open(io.BytesIO(unsigned)).tobytes()
    assert read_provenance(stored) == read_provenance(unsigned)
    manifest = manifest_json(stored, image_format=output_format)
    active = manifest["manifests"][manifest["active_manifest"]]
    assert active["ingredients"][0]["relationship"] == "parentOf"
    assert (cut.width, cut.height, cut.format) == (300, 200, output_format)
