"""Cost of Content Credentials (C2PA) signing at 2048x2048, next to the encode it follows.

    .venv/bin/python bench/c2pa_signing.py              # 4 formats, 9 timed runs each
    .venv/bin/python bench/c2pa_signing.py --smoke      # 2 runs, 1024x1024: the path

The picture is an emulator composition (generation.emulator.composition.compose, RGB). Per format (JPEG, WebP, AVIF,
PNG; the platform's own encoders and qualities, dam.imaging.encode): the encode (the baseline a rendition pays
anyway), the XMP stamp, signing it as an original (`sign_original`: no ingredient), and signing it as a rendition of
the 2048x2048 PNG original (`sign_derived`: c2pa.opened of the original as parentOf ingredient, so the parent's bytes
are hashed and its manifest copied in). The key is an EC P-256 key in memory (a local CA made for the run), signing
through `Signer.from_callback` as the platform does; a KMS/HSM adds its own round trip. Wall time, median and max;
the size the manifest adds. Then three placement cuts as the generation worker makes them at persist time (derive:
crop, scale, encode; then stamp and sign as a rendition of the signed original) and signing's share of each.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))  # run as `python bench/c2pa_signing.py`
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

import django  # noqa: E402

django.setup()

from cryptography.hazmat.primitives.asymmetric import ec  # noqa: E402

from dam.credentials.keys import new_local_ca, sign_with  # noqa: E402
from dam.credentials.signing import (  # noqa: E402
    SignerMaterial,
    actions_for_steps,
    sign_derived,
    sign_original,
    signable,
)
from dam.imaging import derive, encode  # noqa: E402
from dam.provenance import ProvenanceRecord, provenance_stamp, xmp_packet  # noqa: E402
from generation.emulator.composition import compose  # noqa: E402

FORMATS = ("jpeg", "webp", "avif", "png")
CUTS = (
    ("leaderboard 970x250", (970, 250), "png"),
    ("tile 300x250", (300, 250), "webp"),
    ("story 1080x1920", (1080, 1920), "jpeg"),
)
RECORD = ProvenanceRecord(
    source_type="trainedAlgorithmicMedia", ai_system="gpt-image-2", ai_system_version="bench", credit_line="Bench"
)


def material() -> SignerMaterial:
    ca, _ = new_local_ca("Bench")
    key = ec.generate_private_key(ec.SECP256R1())
    chain = ca.issue(key.public_key(), common_name="Bench signer")
    return SignerMaterial(chain, "es256", lambda data: sign_with(key, "es256", data), None, "Bench")


def timed(work: Callable[[], bytes], runs: int) -> tuple[list[float], bytes]:
    work()  # warm: imports, the encoder's first call, c2pa's first context
    times, result = [], b""
    for _ in range(runs):
        started = time.perf_counter()
        result = work()
        times.append((time.perf_counter() - started) * 1000)
    return times, result


def stamped(image, image_format: str) -> bytes:
    if image_format == "avif":  # AVIF's XMP goes in through the encoder (dam.renditions.pipeline)
        return encode(image, image_format="avif", quality=None).data
    return provenance_stamp(encode(image, image_format=image_format).data, image_format=image_format, record=RECORD)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=9)
    parser.add_argument("--edge", type=int, default=2048)
    parser.add_argument("--smoke", action="store_true")
    args = parser.parse_args()
    runs, edge = (2, 1024) if args.smoke else (args.runs, args.edge)
    signer = material()
    image = compose(seed=7, width=edge, height=edge, quality="high", transparent=False).image.convert("RGB")
    original = sign_original(stamped(image, "png"), image_format="png", record=RECORD, tenant_id=0, material=signer)
    print(f"C2PA signing at {edge}x{edge}, {runs} runs (ms; wall time; ES256 key in memory)")
    print(
        f"{'format':7} {'encode p50':>10} {'xmp p50':>8} {'sign p50':>9} {'sign max':>9} "
        f"{'derived p50':>12} {'derived max':>12} {'bytes':>9} {'manifest':>9}"
    )
    for image_format in FORMATS:
        if not signable(image_format):
            print(f"{image_format:7} not signable by c2pa {image_format}")
            continue
        encode_ms, encoded = timed(lambda f=image_format: encode(image, image_format=f).data, runs)
        if image_format == "avif":  # AVIF's XMP is written by the encoder (dam.renditions.pipeline): in its time
            xmp_ms, data = [0.0], encoded
        else:
            xmp_ms, data = timed(
                lambda f=image_format, e=encoded: provenance_stamp(e, image_format=f, record=RECORD), runs
            )
        sign_ms, signed = timed(
            lambda f=image_format, d=data: sign_original(
                d, image_format=f, record=RECORD, tenant_id=0, material=signer
            ),
            runs,
        )
        derived_ms, _ = timed(
            lambda f=image_format, d=data: sign_derived(
                d,
                image_format=f,
                parent=original,
                parent_format="png",
                actions=["c2pa.transcoded"],
                record=RECORD,
                tenant_id=0,
                material=signer,
            ),
            runs,
        )
        print(
            f"{image_format:7} {statistics.median(encode_ms):10.1f} {statistics.median(xmp_ms):8.1f} "
            f"{statistics.median(sign_ms):9.1f} {max(sign_ms):9.1f} {statistics.median(derived_ms):12.1f} "
            f"{max(derived_ms):12.1f} {len(data):9d} {len(signed) - len(data):9d}"
        )
    print(f"xmp packet {len(xmp_packet(RECORD))} bytes; original (signed PNG) {len(original)} bytes")
    # Placement cuts as the generation worker makes them at persist time (generation.services.outputs
    # prepare_renditions): derive (crop + scale + encode) from the signed original, then stamp and sign.
    print(f"\nplacement cuts from the {edge}x{edge} original (ms)")
    print(f"{'cut':22} {'derive p50':>10} {'sign p50':>9} {'sign share':>10}")
    for name, (width, height), image_format in CUTS:
        top = (edge - edge * height // width) // 2 if width >= height else 0
        left = (edge - edge * width // height) // 2 if height > width else 0
        box = {"left": left, "top": top, "right": edge - left, "bottom": edge - top}
        steps = [{"op": "crop", "box": box}, {"op": "scale", "size": {"width": width, "height": height}}]
        derive_ms, cut = timed(lambda s=steps, f=image_format: derive(original, s, image_format=f).data, runs)
        sign_ms, _ = timed(
            lambda c=cut, f=image_format, s=steps: sign_derived(
                provenance_stamp(c, image_format=f, record=RECORD) if f != "avif" else c,
                image_format=f,
                parent=original,
                parent_format="png",
                actions=actions_for_steps(s, source_format="png", image_format=f),
                record=RECORD,
                tenant_id=0,
                material=signer,
            ),
            runs,
        )
        d, g = statistics.median(derive_ms), statistics.median(sign_ms)
        print(f"{name:22} {d:10.1f} {g:9.1f} {g / (d + g):10.0%}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
