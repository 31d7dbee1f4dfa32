"""The emulator signs its answers with a C2PA manifest, as Azure OpenAI does ("AI Generated Image", software agent
"Azure OpenAI ImageGen", c2pa.created with digital source type trainedAlgorithmicMedia), so the platform's ingest of a
provider's manifest (kept as the parent ingredient of the stored original) is exercised for real.

The "emulator" CA (root, intermediate) and its end-entity signing key are generated on first start and kept in one
PEM file (EMULATOR_C2PA_DIR, default var/emulator-c2pa/emulator-ca.pem) so that every emulator process and every test
run share one trust anchor (`trust_anchor_pem`). EMULATOR_C2PA=0 switches signing off.

Self-contained on purpose (cryptography + c2pa only, no Django): the emulator stands in for a third party.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import io
import os
import tempfile
import threading
from collections import OrderedDict
from pathlib import Path

import c2pa
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

SOFTWARE_AGENT = "Azure OpenAI ImageGen"
CLAIM_GENERATOR = "Foundry Emulator"
ORGANIZATION = "Foundry Emulator"
TRAINED_ALGORITHMIC_MEDIA = "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"
DOCUMENT_SIGNING = x509.ObjectIdentifier("1.3.6.1.5.5.7.3.36")
MIME = {"png": "image/png", "jpeg": "image/jpeg", "webp": "image/webp"}
# No thumbnail (most of the cost), no read-back after signing.
_BUILDER_SETTINGS = {"builder": {"thumbnail": {"enabled": False}}, "verify": {"verify_after_sign": False}}
_REPO = Path(__file__).resolve().parents[2]


def enabled() -> bool:
    return os.environ.get("EMULATOR_C2PA", "1").strip().lower() not in ("0", "false", "no", "off")


def ca_path() -> Path:
    directory = os.environ.get("EMULATOR_C2PA_DIR") or str(_REPO / "var" / "emulator-c2pa")
    return Path(directory) / "emulator-ca.pem"


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, ORGANIZATION),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _usage(*, ca: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=not ca,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=ca,
        crl_sign=ca,
        encipher_only=False,
        decipher_only=False,
    )


def _certificate(subject, key, issuer, issuer_key, *, ca: bool, path_length: int | None = None) -> x509.Certificate:
    now = dt.datetime.now(dt.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=path_length), critical=True)
        .add_extension(_usage(ca=ca), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()), critical=False)
    )
    if not ca:
        builder = builder.add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION, DOCUMENT_SIGNING]), critical=False
        )
    return builder.sign(issuer_key, hashes.SHA256())


def _new_bundle() -> bytes:
    """Root, intermediate, end-entity certificate and the end-entity key, as one PEM."""
    root_key, inter_key, leaf_key = (ec.generate_private_key(ec.SECP256R1()) for _ in range(3))
    root_name = _name("Foundry Emulator Root CA")
    root = _certificate(root_name, root_key, root_name, root_key, ca=True, path_length=1)
    inter_name = _name("Foundry Emulator Intermediate CA")
    inter = _certificate(inter_name, inter_key, root_name, root_key, ca=True, path_length=0)
    leaf = _certificate(_name(SOFTWARE_AGENT), leaf_key, inter_name, inter_key, ca=False)
    pem = serialization.Encoding.PEM
    return (
        root.public_bytes(pem)
        + inter.public_bytes(pem)
        + leaf.public_bytes(pem)
        + leaf_key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )


def ensure_ca() -> Path:
    """The CA file, generated on first start; concurrent first starts agree on one (the first link wins)."""
    path = ca_path()
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=".emulator-ca-")
        with os.fdopen(fd, "wb") as handle:
            handle.write(_new_bundle())
        try:
            os.link(temporary, path)
        except FileExistsError:
            pass
        finally:
            os.unlink(temporary)
    return path


@functools.cache
def _material(path: str) -> tuple[bytes, bytes, ec.EllipticCurvePrivateKey]:
    bundle = Path(path).read_bytes()
    root, inter, leaf = x509.load_pem_x509_certificates(bundle)[:3]
    key = serialization.load_pem_private_key(bundle, None)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    chain = leaf.public_bytes(serialization.Encoding.PEM) + inter.public_bytes(serialization.Encoding.PEM)
    return root.public_bytes(serialization.Encoding.PEM), chain, key


def trust_anchor_pem() -> bytes:
    """The emulator CA's root certificate: what a verifier trusts to call the emulator's manifests Trusted."""
    return _material(str(ensure_ca()))[0]


def sign_answer(data: bytes, output_format: str, *, edit: bool = False) -> bytes:
    """An answer's picture with the emulator's C2PA manifest (unchanged when signing is off)."""
    if not enabled():
        return data
    _, chain, key = _material(str(ensure_ca()))
    manifest = {
        "claim_generator_info": [{"name": CLAIM_GENERATOR, "version": "1.0"}],
        "title": f"image.{output_format}",
        "format": MIME[output_format],
        "assertions": [
            {
                "label": "c2pa.actions.v2",
                "data": {
                    "actions": [
                        {
                            "action": "c2pa.created",
                            "description": "AI Generated Image" if not edit else "AI Edited Image",
                            "digitalSourceType": TRAINED_ALGORITHMIC_MEDIA,
                            "softwareAgent": {"name": SOFTWARE_AGENT},
                        }
                    ]
                },
            }
        ],
    }
    context = c2pa.Context.from_dict(_BUILDER_SETTINGS)
    signer = c2pa.Signer.from_callback(
        lambda payload: key.sign(payload, ec.ECDSA(hashes.SHA256())),
        c2pa.C2paSigningAlg.ES256,
        chain.decode(),
    )
    with context, signer, c2pa.Builder(manifest, context=context) as builder:
        target = io.BytesIO()
        builder.sign(signer, MIME[output_format], io.BytesIO(data), target)
    return target.getvalue()


# The last answers signed, by the unsigned picture's digest: the emulator's pictures are deterministic, its
# signatures are not (ECDSA nonces, c2pa's random salts and ids), and a repeated request must answer the same bytes.
REMEMBERED_ANSWERS = 32
_signed: OrderedDict[tuple[bytes, str, bool], bytes] = OrderedDict()
_signed_lock = threading.Lock()


def sign_answers(pictures: list[bytes], output_format: str, *, edit: bool = False) -> list[bytes]:
    signed = []
    for data in pictures:
        key = (hashlib.sha256(data).digest(), output_format, edit)
        with _signed_lock:
            found = _signed.get(key)
            if found is not None:
                _signed.move_to_end(key)
        if found is None:
            found = sign_answer(data, output_format, edit=edit)
            with _signed_lock:
                _signed[key] = found
                while len(_signed) > REMEMBERED_ANSWERS:
                    _signed.popitem(last=False)
        signed.append(found)
    return signed
