"""Signing stored files with C2PA manifests (c2pa-python), the signer per tenant, and the manifests' content.

Public interface:

    @dataclass(frozen=True) class SignerMaterial:
        certificate_chain_pem: bytes; algorithm: str; sign: Callable[[bytes], bytes]; key_id: int | None;
        organization: str
    signer_for(*, tenant_id: int | None) -> SignerMaterial | None
    sign_original(data, *, image_format, record, tenant_id, provider_data=None, provider_format=None,
                  edit_of=None, edit_of_format=None, title="", material=None) -> bytes
    sign_derived(data, *, image_format, parent, parent_format, actions, record, tenant_id, title="",
                 material=None) -> bytes      # material: sign with this instead of signer_for(tenant_id)
    sign_upload(data, *, image_format, record, tenant_id, uploaded=None, uploaded_format=None, title="") -> bytes
    register_remote_signer(scheme, factory)   # a KMS/HSM: SigningKey.kms_key_uri "<scheme>://..."
    actions_for_steps(steps, *, source_format, image_format) -> list[str]   # a cut's c2pa.cropped/resized/transcoded
    signable(image_format) -> bool; manifest_json(data, *, image_format) -> dict; SigningFailed

What a manifest says comes from the file's ProvenanceRecord, the same record the XMP is written from
(dam.provenance): the digital source type and AI system go into the c2pa.actions.v2 assertion, the credit line,
copyright notice and (only if the tenant allows it) the prompt into a `dam.provenance` assertion. The XMP is
stamped first and the manifest signed over the stamped bytes, so the two never disagree and the XMP is covered by
the manifest's hash.

- A generated original: `c2pa.created` (trainedAlgorithmicMedia, or compositeWithTrainedAlgorithmicMedia for an
  AI edit of an upload; the model and deployment as software agent). The provider's own manifest, when its answer
  carries one (Azure OpenAI signs every image, so does the emulator), is kept as the `parentOf` ingredient.
- An edit: `c2pa.opened` of the parent version's original (`parentOf`), then `c2pa.edited` with the source type;
  the provider's answer is a `componentOf` ingredient.
- A placement cut or rendition: `c2pa.opened` of its original (`parentOf`), then `c2pa.resized`/`c2pa.cropped`/
  `c2pa.transcoded` as the caller says: the chain runs rendition -> original -> provider.
- An upload: `c2pa.opened` of the uploaded file when it carries its own manifest (kept as the ingredient), else
  `c2pa.created` with the source type its uploader declared (or none).

A provider's or an upload's own manifest that c2pa refuses (malformed) is left out, the reason kept in the
`dam.provenance` assertion (`rejected_ingredient`): the image is never lost over it.

A format the library cannot sign, or no key at all (C2PA_SIGNING off, no platform key outside development), leaves
the file with its XMP only: logged, and reported as unsigned by verification.
"""

from __future__ import annotations

import io
import json
import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from functools import cache
from pathlib import Path

import c2pa
from cryptography.hazmat.primitives import serialization
from django.conf import settings

from dam.credentials.keys import algorithm_of, decrypt_private_key, dev_platform_key, sign_with
from dam.formats import FORMATS
from dam.models import SigningKey
from dam.provenance import IPTC_SOURCE_TYPE_BASE, ProvenanceRecord
from tenants.models import Tenant

logger = logging.getLogger(__name__)

ALGORITHMS = {
    "es256": c2pa.C2paSigningAlg.ES256,
    "es384": c2pa.C2paSigningAlg.ES384,
    "es512": c2pa.C2paSigningAlg.ES512,
    "ps256": c2pa.C2paSigningAlg.PS256,
    "ps384": c2pa.C2paSigningAlg.PS384,
    "ps512": c2pa.C2paSigningAlg.PS512,
    "ed25519": c2pa.C2paSigningAlg.ED25519,
}
# Derived files: what the pipeline did to the original, in C2PA's action vocabulary.
DERIVED_ACTIONS = frozenset({"c2pa.resized", "c2pa.cropped", "c2pa.transcoded", "c2pa.edited", "c2pa.filtered"})
# No thumbnail in the manifest (it would add a JPEG of the picture to every rendition: ~30 KB and most of the
# signing time), no re-read of what was just written (the tests and the verification command read it back).
BUILDER_SETTINGS = {"builder": {"thumbnail": {"enabled": False}}, "verify": {"verify_after_sign": False}}
PROVENANCE_LABEL = "dam.provenance"
EMPTY_SOURCE_TYPE = "http://c2pa.org/digitalsourcetype/empty"


class SigningFailed(RuntimeError):
    pass


class _IngredientRejected(Exception):
    """c2pa refused an optional ingredient (its manifest is malformed): the file is signed without it."""

    def __init__(self, label: str, reason: str) -> None:
        super().__init__(f"{label}: {reason}")
        self.label, self.reason = label, reason


@dataclass(frozen=True)
class SignerMaterial:
    """Everything a C2PA signer needs; `sign` is the only use of the private key (a KMS/HSM callback fits)."""

    certificate_chain_pem: bytes
    algorithm: str
    sign: Callable[[bytes], bytes]
    key_id: int | None = None  # the SigningKey row; None for the key configured by settings
    organization: str = ""  # the tenant's name: the claim generator's organisation


_remote_signers: dict[str, Callable[[str], Callable[[bytes], bytes]]] = {}


def register_remote_signer(scheme: str, factory: Callable[[str], Callable[[bytes], bytes]]) -> None:
    """Keys held in a KMS/HSM: a SigningKey whose kms_key_uri starts with `<scheme>://` signs through
    `factory(uri)(data) -> signature` (DER ECDSA or raw, as the algorithm's c2pa callback expects)."""
    _remote_signers[scheme] = factory


@cache
def _local_callback(key_id: int, token: str, algorithm: str) -> Callable[[bytes], bytes]:
    # Decrypted and parsed once per key per process; the cache key includes the token, so a re-encrypted row misses.
    private = serialization.load_pem_private_key(decrypt_private_key(token), None)
    return lambda data: sign_with(private, algorithm, data)


@cache
def _settings_key(chain_path: str, key_path: str) -> tuple[bytes, str, Callable[[bytes], bytes]]:
    private = serialization.load_pem_private_key(Path(key_path).read_bytes(), None)
    algorithm = algorithm_of(private)
    return Path(chain_path).read_bytes(), algorithm, lambda data: sign_with(private, algorithm, data)


def _material(key: SigningKey, organization: str) -> SignerMaterial:
    if key.kms_key_uri:
        scheme = key.kms_key_uri.split("://", 1)[0]
        if scheme not in _remote_signers:
            raise SigningFailed(f"no remote signer registered for {scheme!r} (signing key {key.pk})")
        callback = _remote_signers[scheme](key.kms_key_uri)
    else:
        callback = _local_callback(key.pk, key.private_key_encrypted, key.algorithm)
    return SignerMaterial(key.certificate_chain_pem.encode(), key.algorithm, callback, key.pk, organization)


_dev_key_lock = threading.Lock()


def signer_for(*, tenant_id: int | None) -> SignerMaterial | None:
    """The tenant's active key, else the platform key (settings, then the platform row, then the dev CA's);
    None when signing is off or no key exists (production without a platform key)."""
    if not settings.C2PA_SIGNING:
        return None
    organization = ""
    if tenant_id is not None:
        organization = Tenant.objects.filter(pk=tenant_id).values_list("name", flat=True).first() or ""
        key = SigningKey.unscoped.filter(tenant_id=tenant_id, active=True).first()
        if key is not None:
            return _material(key, organization)
    if settings.C2PA_PLATFORM_CERT_CHAIN and settings.C2PA_PLATFORM_PRIVATE_KEY:
        chain, algorithm, callback = _settings_key(
            settings.C2PA_PLATFORM_CERT_CHAIN, settings.C2PA_PLATFORM_PRIVATE_KEY
        )
        return SignerMaterial(chain, algorithm, callback, None, organization)
    key = SigningKey.unscoped.filter(tenant__isnull=True, active=True).first()
    if key is None and settings.C2PA_DEV_CA:
        with _dev_key_lock:
            key = dev_platform_key()
    return _material(key, organization) if key is not None else None


def _mime(image_format: str) -> str:
    return FORMATS[image_format].content_type


def _actions_assertion(actions: list[dict]) -> dict:
    return {"label": "c2pa.actions.v2", "data": {"actions": actions}}


def _provenance_assertion(record: ProvenanceRecord, notes: dict | None = None) -> dict:
    return {"label": PROVENANCE_LABEL, "data": {**{k: v for k, v in asdict(record).items() if v}, **(notes or {})}}


def _source_type(record: ProvenanceRecord) -> dict:
    return {"digitalSourceType": IPTC_SOURCE_TYPE_BASE + record.source_type} if record.source_type else {}


def _ai_agent(record: ProvenanceRecord) -> dict:
    if not record.ai_system:
        return {}
    agent = {"name": record.ai_system}
    if record.ai_system_version:
        agent["version"] = record.ai_system_version
    return {"softwareAgent": agent}


def carries_manifest(data: bytes) -> bool:
    """Whether `data` holds a C2PA manifest store (a JUMBF box labelled c2pa), without validating it."""
    return b"jumb" in data and b"c2pa" in data


@dataclass(frozen=True)
class _Ingredient:
    data: bytes
    image_format: str
    relationship: str  # parentOf | componentOf | inputTo
    label: str
    title: str


def _sign(
    data: bytes,
    *,
    image_format: str,
    tenant_id: int | None,
    actions: list[dict],
    record: ProvenanceRecord,
    ingredients: Sequence[_Ingredient] = (),
    title: str = "",
    material: SignerMaterial | None = None,
    optional: frozenset[str] = frozenset(),
    notes: dict | None = None,
) -> bytes:
    """Sign `data`; an ingredient whose label is in `optional` and that c2pa refuses (a malformed manifest in a
    provider's answer or an upload) raises _IngredientRejected, so the caller can sign without it."""
    if image_format not in FORMATS or _mime(image_format) not in _signable_mime_types():
        logger.warning("c2pa: format %s cannot be signed; the file keeps its XMP only", image_format)
        return data
    material = material or signer_for(tenant_id=tenant_id)
    if material is None:
        logger.warning("c2pa: no signing key (tenant %s); the file keeps its XMP only", tenant_id)
        return data
    generator = {"name": settings.C2PA_CLAIM_GENERATOR, "version": "1"}
    if material.organization:
        generator["organization"] = material.organization
    manifest = {
        "claim_generator_info": [generator],
        "title": title or f"{image_format} image",
        "format": _mime(image_format),
        "assertions": [_actions_assertion(actions), _provenance_assertion(record, notes)],
    }
    started = time.perf_counter()
    try:
        context = c2pa.Context.from_dict(BUILDER_SETTINGS)
        signer = c2pa.Signer.from_callback(
            material.sign, ALGORITHMS[material.algorithm], material.certificate_chain_pem.decode()
        )
        with context, signer, c2pa.Builder(manifest, context=context) as builder:
            for ingredient in ingredients:
                try:
                    builder.add_ingredient(
                        {"relationship": ingredient.relationship, "title": ingredient.title, "label": ingredient.label},
                        _mime(ingredient.image_format),
                        io.BytesIO(ingredient.data),
                    )
                except c2pa.C2paError as error:
                    if ingredient.label in optional:
                        raise _IngredientRejected(ingredient.label, str(error)) from error
                    raise
            target = io.BytesIO()
            builder.sign(signer, _mime(image_format), io.BytesIO(data), target)
    except c2pa.C2paError as error:
        raise SigningFailed(f"c2pa signing of a {image_format} file failed: {error}") from error
    logger.debug(
        "c2pa signed",
        extra={"format": image_format, "ms": round((time.perf_counter() - started) * 1000, 2), "key": material.key_id},
    )
    return target.getvalue()


@cache
def _signable_mime_types() -> frozenset[str]:
    return frozenset(c2pa.Builder.get_supported_mime_types())


def signable(image_format: str) -> bool:
    return image_format in FORMATS and _mime(image_format) in _signable_mime_types()


def sign_original(
    data: bytes,
    *,
    image_format: str,
    record: ProvenanceRecord,
    tenant_id: int,
    provider_data: bytes | None = None,
    provider_format: str | None = None,
    edit_of: bytes | None = None,
    edit_of_format: str | None = None,
    title: str = "",
    material: SignerMaterial | None = None,
) -> bytes:
    """A generated output's stored original (XMP already stamped), signed; see the module docstring."""
    try:
        return _sign_original(
            data,
            image_format=image_format,
            record=record,
            tenant_id=tenant_id,
            provider=provider_data if provider_data is not None and carries_manifest(provider_data) else None,
            provider_format=provider_format,
            edit_of=edit_of,
            edit_of_format=edit_of_format,
            title=title,
            material=material,
        )
    except _IngredientRejected as rejected:
        # A provider's malformed manifest must not lose the image: signed without it, and the manifest says so.
        logger.warning("c2pa: the provider's manifest was refused (%s); signed without it", rejected.reason)
        return _sign_original(
            data,
            image_format=image_format,
            record=record,
            tenant_id=tenant_id,
            provider=None,
            provider_format=None,
            edit_of=edit_of,
            edit_of_format=edit_of_format,
            title=title,
            material=material,
            notes={"rejected_ingredient": f"provider output: {rejected.reason}"[:500]},
        )


def _sign_original(
    data: bytes,
    *,
    image_format: str,
    record: ProvenanceRecord,
    tenant_id: int,
    provider: bytes | None,
    provider_format: str | None,
    edit_of: bytes | None,
    edit_of_format: str | None,
    title: str,
    material: SignerMaterial | None,
    notes: dict | None = None,
) -> bytes:
    ingredients: list[_Ingredient] = []
    if edit_of is not None:
        ingredients.append(_Ingredient(edit_of, edit_of_format or image_format, "parentOf", "parent", "edited version"))
        actions = [
            {"action": "c2pa.opened", "parameters": {"ingredientIds": ["parent"]}},
            {"action": "c2pa.edited", **_source_type(record), **_ai_agent(record)},
        ]
        if provider is not None:
            ingredients.append(
                _Ingredient(provider, provider_format or image_format, "componentOf", "provider", "provider output")
            )
            actions[1]["parameters"] = {"ingredientIds": ["provider"]}
    else:
        created = {"action": "c2pa.created", **_source_type(record), **_ai_agent(record)}
        if provider is not None:
            ingredients.append(
                _Ingredient(provider, provider_format or image_format, "parentOf", "provider", "provider output")
            )
            created["parameters"] = {"ingredientIds": ["provider"]}
        actions = [created]
    return _sign(
        data,
        image_format=image_format,
        tenant_id=tenant_id,
        actions=actions,
        record=record,
        ingredients=ingredients,
        title=title,
        material=material,
        optional=frozenset({"provider"}),
        notes=notes,
    )


def sign_derived(
    data: bytes,
    *,
    image_format: str,
    parent: bytes,
    parent_format: str,
    actions: Sequence[str],
    record: ProvenanceRecord,
    tenant_id: int,
    title: str = "",
    material: SignerMaterial | None = None,
) -> bytes:
    """A placement cut or rendition of `parent` (its stored original), signed with `c2pa.opened` of the parent
    as its `parentOf` ingredient, then `actions` (c2pa.resized, c2pa.cropped, c2pa.transcoded...)."""
    unknown = set(actions) - DERIVED_ACTIONS
    if unknown:
        raise ValueError(f"not a derivation action: {sorted(unknown)}")
    steps = [{"action": "c2pa.opened", "parameters": {"ingredientIds": ["parent"]}}]
    steps += [{"action": action} for action in actions]
    return _sign(
        data,
        image_format=image_format,
        tenant_id=tenant_id,
        actions=steps,
        record=record,
        ingredients=[_Ingredient(parent, parent_format, "parentOf", "parent", "original")],
        title=title,
        material=material,
    )


def sign_upload(
    data: bytes,
    *,
    image_format: str,
    record: ProvenanceRecord,
    tenant_id: int,
    uploaded: bytes | None = None,
    uploaded_format: str | None = None,
    title: str = "",
) -> bytes:
    """An uploaded original (sanitised, XMP stamped), signed; the file as uploaded is kept as the `parentOf`
    ingredient when it carried its own manifest (sanitising re-encodes it, which drops the manifest)."""
    notes = None
    if uploaded is not None and carries_manifest(uploaded):
        fmt = uploaded_format or image_format
        try:
            return _sign(
                data,
                image_format=image_format,
                tenant_id=tenant_id,
                actions=[
                    {"action": "c2pa.opened", "parameters": {"ingredientIds": ["upload"]}},
                    {"action": "c2pa.edited.metadata"},
                ],
                record=record,
                ingredients=[_Ingredient(uploaded, fmt, "parentOf", "upload", "uploaded file")],
                title=title,
                optional=frozenset({"upload"}),
            )
        except _IngredientRejected as rejected:
            # Anyone can upload a file with a broken manifest: it is stored, signed as created, and the reason kept.
            logger.warning("c2pa: an upload's own manifest was refused (%s); signed without it", rejected.reason)
            notes = {"rejected_ingredient": f"uploaded file: {rejected.reason}"[:500]}
    return _sign(
        data,
        image_format=image_format,
        tenant_id=tenant_id,
        # C2PA wants a source type on c2pa.created; an uploader who declared none gets C2PA's "empty" (nothing
        # claimed), never a guess.
        actions=[{"action": "c2pa.created", **(_source_type(record) or {"digitalSourceType": EMPTY_SOURCE_TYPE})}],
        record=record,
        title=title,
        notes=notes,
    )


def actions_for_steps(steps: Sequence[dict], *, source_format: str, image_format: str) -> list[str]:
    """The C2PA actions of a cut made by dam.imaging steps (`crop`, `scale`/`resize`), then encoded."""
    ops = {step.get("op") for step in steps}
    actions = ["c2pa.cropped"] if "crop" in ops else []
    if ops & {"scale", "resize"}:
        actions.append("c2pa.resized")
    if image_format != source_format or not actions:
        actions.append("c2pa.transcoded")
    return actions


def manifest_json(data: bytes, *, image_format: str) -> dict:
    """The manifest store of `data` as c2pa's Reader reports it (no trust settings: for tests and debugging)."""
    with c2pa.Reader(_mime(image_format), io.BytesIO(data)) as reader:
        return json.loads(reader.json())
