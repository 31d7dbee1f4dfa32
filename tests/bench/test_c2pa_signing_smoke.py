"""bench/c2pa_signing.py --smoke: the benchmark's whole path (every format encoded, stamped, signed as an original and
as a rendition of a signed original) at 1024x1024 in a few seconds, so a change that breaks the benchmark is seen."""

from __future__ import annotations

import re

import pytest

from tests.support.bench import bench_output

pytestmark = [pytest.mark.slow]


def test_the_signing_benchmark_signs_every_format():
    out = bench_output("bench/c2pa_signing.py", "--smoke")
    rows = {
        name: [float(v) for v in values.split()]
        for name, values in re.findall(r"^(jpeg|webp|avif|png)\s+([\d. ]+)$", out, re.M)
    }
    assert set(rows) == {"jpeg", "webp", "avif", "png"}, out
    for name, (_encode, _xmp, sign, _sign_max, derived, _derived_max, _size, manifest) in rows.items():
        assert sign > 0 and derived > 0, (name, out)
        assert 1_000 < manifest < 64_000, (name, out)  # a manifest was added, without a thumbnail in it
