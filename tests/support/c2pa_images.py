"""Images carrying Content Credentials for the verification tests, signed here with c2pa-python's Builder.

Independent of the platform's signing (dam.credentials.signing) on purpose: the verifier is tested against
manifests made the way any C2PA tool makes them, with certificates from tests.support.c2pa_ca.
"""

from __future__ import annotations

import io
import json
from typing import Any

import c2pa
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from PIL import Image

from dam.formats import FORMATS
from tests.support.c2pa_ca import SigningCert

TRAINED = "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"


def plain_image(image_format: str = "png", *, size: tuple[int, int] = (64, 48), colour=(200, 40, 30)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, colour).save(out, format=FORMATS[image_format].pil_format)
    return out.getvalue()


def _es256(cert: SigningCert):
    key = serialization.load_pem_private_key(cert.private_key_pem, password=None)
    assert isinstance(key, ec.EllipticCurvePrivateKey)

    def sign(data: bytes) -> bytes:
        # COSE ES256 wants the raw r||s, not DER.
        r, s = decode_dss_signature(key.sign(data, ec.ECDSA(hashes.SHA256())))
        return r.to_bytes(32, "big") + s.to_bytes(32, "big")

    return sign


def sign_image(
    data: bytes,
    *,
    image_format: str,
    cert: SigningCert,
    title: str = "image",
    actions: list[dict[str, Any]] | None = None,
    parent: tuple[bytes, str] | None = None,
    parent_title: str = "parent",
) -> bytes:
    """`data` with a manifest signed by `cert`: `c2pa.created` (AI) by default; with `parent` (bytes, our format
    name), `c2pa.opened` of it as a parentOf ingredient, then `actions`."""
    mime = FORMATS[image_format].content_type
    if parent is not None:
        steps = [{"action": "c2pa.opened", "parameters": {"ingredientIds": ["parent"]}}, *(actions or [])]
    else:
        steps = actions or [{"action": "c2pa.created", "digitalSourceType": TRAINED}]
    manifest = {
        "claim_generator_info": [{"name": "dam-tests", "version": "1"}],
        "title": title,
        "assertions": [{"label": "c2pa.actions", "data": {"actions": steps}}],
    }
    signer = c2pa.Signer.from_callback(_es256(cert), c2pa.C2paSigningAlg.ES256, cert.chain_pem.decode(), None)
    context = c2pa.Context.from_dict(
        {"builder": {"thumbnail": {"enabled": False}}, "verify": {"verify_after_sign": False}}
    )
    try:
        with c2pa.Builder(manifest, context=context) as builder:
            if parent is not None:
                parent_bytes, parent_format = parent
                builder.add_ingredient(
                    json.dumps({"title": parent_title, "relationship": "parentOf", "label": "parent"}),
                    FORMATS[parent_format].content_type,
                    io.BytesIO(parent_bytes),
                )
            out = io.BytesIO()
            builder.sign(signer, mime, io.BytesIO(data), out)
    finally:
        signer.close()
        context.close()
    return out.getvalue()
