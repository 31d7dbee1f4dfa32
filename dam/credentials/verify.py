"""Reading and validating Content Credentials (C2PA manifests) in image bytes.

`read_credentials(data)` answers what a verifier needs: is there a manifest, is it valid (the claim signature
checks out and every hash, the image data's included, matches), is the signer trusted (its certificate chains to
one of our trust anchors, `C2PA_TRUST_ANCHORS`), who signed it and who issued that certificate, the actions of the
active manifest, and the chain of ingredients (rendition -> original -> the provider's manifest), each link with
its own signer and verdict. It never raises for a file without a manifest or one the library cannot parse: those
are reports too (`state` "absent" / "unreadable"), because the API, the asset page and `verify_credentials` all
report them rather than fail.

The work is c2pa-python's Reader (c2pa-rs): `json()` is the manifest store as the SDK describes it and
`crjson()` adds each signing certificate's subject and issuer. Verification never goes to the network: remote
manifests and OCSP are off, so a file uploaded to the public verifier cannot make the server fetch a URL.

`valid` and `trusted` are separate on purpose (c2pa's own validation states): a manifest signed with a key of a
CA we do not anchor is intact ("Valid") but not "Trusted"; a changed byte makes it "Invalid".
"""

from __future__ import annotations

import io
import json
import logging
import re
import struct
import warnings
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Protocol

import c2pa
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from django.conf import settings
from django.core.files.storage import default_storage
from PIL import Image, UnidentifiedImageError

from dam.blobs import blob_read
from dam.formats import FORMATS, describe_refused, labels, sniff_format
from dam.services.uploads import (
    TooManyPixels,
    UnreadableImage,
    UnsupportedMediaType,
    UploadTooLarge,
    max_upload_pixels,
)

logger = logging.getLogger(__name__)

# Report states, from worst to best; `valid` is "valid" or "trusted".
ABSENT = "absent"  # no manifest in the file
UNREADABLE = "unreadable"  # the container (or its manifest) could not be parsed
INVALID = "invalid"  # a manifest whose signature or hashes do not check out
VALID = "valid"  # signature and hashes check out; the signer is not (known to be) trusted
TRUSTED = "trusted"  # valid, and the signing certificate chains to one of the trust anchors
STATES = (ABSENT, UNREADABLE, INVALID, VALID, TRUSTED)
# The development CA's file in C2PA_DEV_CA_DIR (dam.credentials.keys.dev_ca).
DEV_CA_FILE = "dev-ca.pem"

# The failure code c2pa reports beside a "Valid" state when the signer does not chain to an anchor: it says
# "not trusted", not "tampered", so it does not make an ingredient invalid.
UNTRUSTED_CODE = "signingCredential.untrusted"
TRUSTED_CODE = "signingCredential.trusted"
# A manifest store nests ingredients as deep as the file's history goes; a crafted file could nest (or loop)
# without end. Deeper links are cut with a note.
MAX_CHAIN_DEPTH = 12
# What c2pa wraps in a "self#jumbf=/c2pa/<manifest label>/c2pa.assertions/<assertion label>" URI.
_ASSERTION_URI = re.compile(r"/c2pa/(?P<manifest>[^/]+)/c2pa\.assertions/(?P<assertion>[^/?#]+)")


@dataclass(frozen=True)
class CredentialsReport:
    """What one file's Content Credentials say, and whether they hold."""

    present: bool  # the file carries a C2PA manifest store
    valid: bool  # the active manifest's signature and hashes check out
    trusted: bool  # ...and its signing certificate chains to a configured trust anchor
    signer: str | None  # the signing certificate's subject: organisation, else common name
    issuer: str | None  # the CA that issued the signing certificate (its common name, organisation)
    actions: tuple[dict[str, Any], ...]  # the active manifest's c2pa.actions, in order
    ingredients: tuple[dict[str, Any], ...]  # the chain: each ingredient with its own manifest's facts, nested
    validation: tuple[dict[str, Any], ...]  # c2pa's status codes: {kind, code, explanation, url}
    manifest_store: dict[str, Any]  # the c2pa Reader's JSON (empty without a manifest)
    state: str = ABSENT  # one of STATES
    signer_name: str | None = None  # the signing certificate's common name
    title: str | None = None  # the active manifest's title
    claim_generator: str | None = None  # name (and version) of the software that made the claim
    format: str | None = None  # the image format read ("png", "jpeg", "webp", "avif") when known
    error: str | None = None  # why an unreadable file could not be read (the library's message)

    @property
    def failures(self) -> tuple[dict[str, Any], ...]:
        return tuple(status for status in self.validation if status["kind"] == "failure")

    def to_dict(self, *, include_store: bool = True) -> dict[str, Any]:
        data = asdict(self)
        data["actions"] = list(self.actions)
        data["ingredients"] = list(self.ingredients)
        data["validation"] = list(self.validation)
        if not include_store:
            data.pop("manifest_store")
        return data


def _absent(image_format: str | None) -> CredentialsReport:
    return CredentialsReport(
        present=False,
        valid=False,
        trusted=False,
        signer=None,
        issuer=None,
        actions=(),
        ingredients=(),
        validation=(),
        manifest_store={},
        state=ABSENT,
        format=image_format,
    )


def _unreadable(image_format: str | None, message: str) -> CredentialsReport:
    status = {"kind": "failure", "code": "dam.unreadable", "explanation": message, "url": None}
    return CredentialsReport(
        present=False,
        valid=False,
        trusted=False,
        signer=None,
        issuer=None,
        actions=(),
        ingredients=(),
        validation=(status,),
        manifest_store={},
        state=UNREADABLE,
        format=image_format,
        error=message,
    )


@lru_cache(maxsize=8)
def _anchors_file(path: str, mtime_ns: int) -> bytes:
    # Keyed by the modification time too: a rotated anchors file is read again without a restart.
    return Path(path).read_bytes()


@lru_cache(maxsize=4)
def _dev_root(path: str, mtime_ns: int) -> bytes:
    # The dev CA's file holds root, intermediate and the intermediate's key (dam.credentials.keys.local_ca_at):
    # only the root is an anchor.
    try:
        root = x509.load_pem_x509_certificates(Path(path).read_bytes())[0]
    except (ValueError, IndexError):
        logger.error("the development CA at %s is not readable: it is not trusted", path)
        return b""
    return root.public_bytes(serialization.Encoding.PEM)


def configured_trust_anchors() -> bytes:
    """The PEM bundle at settings.C2PA_TRUST_ANCHORS; unset, the development CA's root when C2PA_DEV_CA is on and
    that CA exists (so a local install's own signatures show as trusted); else b"": nothing is trusted."""
    path = settings.C2PA_TRUST_ANCHORS
    if not path:
        return _dev_anchor()
    try:
        stat = Path(path).stat()
    except OSError:
        # A missing anchors file must not turn every verification into an error page: nothing is trusted, and
        # the log says why (the setting is checked at start-up too, config/settings.py).
        logger.error("C2PA_TRUST_ANCHORS %s cannot be read: nothing is trusted", path)
        return b""
    return _anchors_file(str(path), stat.st_mtime_ns)


def _dev_anchor() -> bytes:
    if not getattr(settings, "C2PA_DEV_CA", False):
        return b""
    # Never created here (verifying has no side effects): only a dev CA the signer already made is trusted.
    path = Path(settings.C2PA_DEV_CA_DIR) / DEV_CA_FILE
    try:
        stat = path.stat()
    except OSError:
        return b""
    return _dev_root(str(path), stat.st_mtime_ns)


def reader_settings(trust_anchors_pem: bytes) -> dict[str, Any]:
    """c2pa Context settings of every read: verify, trust only `trust_anchors_pem`, never touch the network."""
    config: dict[str, Any] = {
        "verify": {
            "verify_after_reading": True,
            "verify_trust": True,
            "remote_manifest_fetch": False,
            "ocsp_fetch": False,
        },
        "core": {"allowed_network_hosts": []},
    }
    if trust_anchors_pem.strip():
        # trust_anchors replaces c2pa's built-in list: we trust exactly the anchors configured.
        config["trust"] = {"trust_anchors": trust_anchors_pem.decode("ascii", "replace")}
    return config


def read_credentials(
    data: bytes, *, image_format: str | None = None, trust_anchors_pem: bytes | None = None
) -> CredentialsReport:
    """The Content Credentials of `data` and whether they hold (see the module docstring).

    `image_format`: our format name ("png", "jpeg", "webp", "avif"); sniffed from the bytes when None.
    `trust_anchors_pem`: the CA certificates to trust; None reads settings.C2PA_TRUST_ANCHORS, b"" trusts none.
    """
    image_format = image_format or sniff_format(data)
    if not data:
        return _unreadable(image_format, "the file is empty")
    anchors = configured_trust_anchors() if trust_anchors_pem is None else trust_anchors_pem
    mime = FORMATS[image_format].content_type if image_format in FORMATS else None
    try:
        context = c2pa.Context.from_dict(reader_settings(anchors))
        try:
            reader = c2pa.Reader.try_create(mime, io.BytesIO(data), context=context)
            if reader is None:
                return _absent(image_format)
            with reader:
                store = json.loads(reader.json())
                certificates = _certificates(reader)
        finally:
            context.close()
    except c2pa.C2paError as error:
        return _unreadable(image_format, _library_message(error))
    except (ValueError, TypeError, OSError, KeyError) as error:
        # The binding's own checks (bad UTF-8 in the store, a stream error): the file, not us.
        logger.warning("c2pa could not read a %s file: %s", image_format or "unknown", error)
        return _unreadable(image_format, f"the manifest could not be read: {type(error).__name__}")
    return _report(store, certificates, image_format)


def _library_message(error: Exception) -> str:
    message = str(error).strip() or type(error).__name__
    return message[:300]


def _certificates(reader: c2pa.Reader) -> dict[str, dict[str, Any]]:
    """Manifest label -> its signing certificate's {subject, issuer} (crJSON has them; json() does not)."""
    try:
        document = json.loads(reader.crjson())
    except (c2pa.C2paError, ValueError):
        return {}
    found: dict[str, dict[str, Any]] = {}
    for manifest in document.get("manifests") or []:
        if not isinstance(manifest, dict):
            continue
        info = ((manifest.get("signature") or {}).get("certificateInfo")) or {}
        if isinstance(info, dict) and isinstance(manifest.get("label"), str):
            found[manifest["label"]] = info
    return found


def _name_of(name: Any) -> tuple[str | None, str | None]:
    """(common name, organisation) of a certificate name as crJSON gives it ({"CN": ..., "O": ...})."""
    if not isinstance(name, dict):
        return None, None
    common, organisation = name.get("CN"), name.get("O")
    return (common if isinstance(common, str) else None), (organisation if isinstance(organisation, str) else None)


def _signer_of(manifest: dict[str, Any], certificate: dict[str, Any]) -> tuple[str | None, str | None, str | None]:
    """(signer organisation-or-name, signer common name, issuer) of one manifest."""
    signature = manifest.get("signature_info") or {}
    common, organisation = _name_of(certificate.get("subject"))
    common = common or signature.get("common_name")
    # c2pa-rs calls the subject's organisation "issuer" in signature_info: it is the signer's organisation.
    organisation = organisation or signature.get("issuer")
    issuer_common, issuer_organisation = _name_of(certificate.get("issuer"))
    issuer = issuer_common or issuer_organisation
    if issuer_common and issuer_organisation and issuer_organisation != issuer_common:
        issuer = f"{issuer_common} ({issuer_organisation})"
    return organisation or common, common, issuer


def _claim_generator(manifest: dict[str, Any]) -> str | None:
    info = manifest.get("claim_generator_info")
    if isinstance(info, list) and info and isinstance(info[0], dict):
        name, version = info[0].get("name"), info[0].get("version")
        if isinstance(name, str):
            return f"{name} {version}" if isinstance(version, str) and version else name
    generator = manifest.get("claim_generator")
    return generator if isinstance(generator, str) else None


def _actions(manifest: dict[str, Any]) -> tuple[dict[str, Any], ...]:
    """The manifest's actions (c2pa.actions and c2pa.actions.v2), the fields people read, in order."""
    found: list[dict[str, Any]] = []
    for assertion in manifest.get("assertions") or []:
        if not isinstance(assertion, dict) or not str(assertion.get("label", "")).startswith("c2pa.actions"):
            continue
        for action in (assertion.get("data") or {}).get("actions") or []:
            if not isinstance(action, dict) or not isinstance(action.get("action"), str):
                continue
            entry: dict[str, Any] = {"action": action["action"]}
            for key in ("digitalSourceType", "softwareAgent", "when", "description", "reason"):
                if key in action:
                    entry[key] = action[key]
            parameters = action.get("parameters")
            if isinstance(parameters, dict):
                # The ingredient links are hashed URIs (noise for people); the rest says what was done.
                kept = {k: v for k, v in parameters.items() if k not in ("ingredient", "ingredients", "ingredientIds")}
                if kept:
                    entry["parameters"] = kept
            found.append(entry)
    return tuple(found)


def _statuses(results: Any, kinds: tuple[str, ...] = ("failure", "informational", "success")) -> list[dict]:
    statuses: list[dict[str, Any]] = []
    if not isinstance(results, dict):
        return statuses
    for kind in kinds:
        for status in results.get(kind) or []:
            if isinstance(status, dict) and isinstance(status.get("code"), str):
                statuses.append(
                    {
                        "kind": kind,
                        "code": status["code"],
                        "explanation": status.get("explanation"),
                        "url": status.get("url"),
                    }
                )
    return statuses


def _deltas(validation_results: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    """(manifest label, ingredient assertion label) -> this read's verdict on that ingredient."""
    deltas: dict[tuple[str, str], dict[str, Any]] = {}
    for delta in validation_results.get("ingredientDeltas") or []:
        if not isinstance(delta, dict):
            continue
        match = _ASSERTION_URI.search(str(delta.get("ingredientAssertionURI", "")))
        if match:
            deltas[(match["manifest"], match["assertion"])] = delta.get("validationDeltas") or {}
    return deltas


def _ingredients(
    store: dict[str, Any],
    manifest_label: str,
    certificates: dict[str, dict[str, Any]],
    deltas: dict[tuple[str, str], dict[str, Any]],
    seen: frozenset[str],
) -> tuple[dict[str, Any], ...]:
    manifests = store.get("manifests") or {}
    manifest = manifests.get(manifest_label) or {}
    chain: list[dict[str, Any]] = []
    for ingredient in manifest.get("ingredients") or []:
        if not isinstance(ingredient, dict):
            continue
        label = ingredient.get("active_manifest")
        link: dict[str, Any] = {
            "title": ingredient.get("title"),
            "format": ingredient.get("format"),
            "relationship": ingredient.get("relationship"),
            "manifest": label if isinstance(label, str) else None,
        }
        delta = deltas.get((manifest_label, str(ingredient.get("label", ""))))
        if delta is not None:
            # This read's verdict on the ingredient's manifest (against our anchors).
            statuses = _statuses(delta)
        else:
            # No fresh verdict: what the signer recorded when it added the ingredient.
            statuses = _statuses((ingredient.get("validation_results") or {}).get("activeManifest"))
        failures = [s for s in statuses if s["kind"] == "failure" and s["code"] != UNTRUSTED_CODE]
        if isinstance(label, str) and label in manifests:
            child = manifests[label]
            signer, signer_name, issuer = _signer_of(child, certificates.get(label, {}))
            link.update(
                signer=signer,
                signer_name=signer_name,
                issuer=issuer,
                claim_generator=_claim_generator(child),
                actions=list(_actions(child)),
                valid=not failures,
                trusted=any(s["code"] == TRUSTED_CODE for s in statuses),
                validation=[s for s in statuses if s["kind"] != "success"],
            )
            if label in seen or len(seen) >= MAX_CHAIN_DEPTH:
                link["ingredients"] = []
                link["truncated"] = True
            else:
                link["ingredients"] = list(_ingredients(store, label, certificates, deltas, seen | {label}))
        else:
            # An ingredient without Content Credentials of its own (a plain image that went into the result).
            link.update(
                signer=None,
                signer_name=None,
                issuer=None,
                claim_generator=None,
                actions=[],
                valid=None,
                trusted=False,
                validation=[s for s in statuses if s["kind"] != "success"],
                ingredients=[],
            )
        chain.append(link)
    return tuple(chain)


def _report(
    store: dict[str, Any], certificates: dict[str, dict[str, Any]], image_format: str | None
) -> CredentialsReport:
    active_label = store.get("active_manifest")
    manifests = store.get("manifests") or {}
    manifest = manifests.get(active_label) if isinstance(active_label, str) else None
    validation_results = store.get("validation_results") or {}
    statuses = _statuses(validation_results.get("activeManifest"))
    # The flat list (all c2pa versions write it) and the ingredients' deltas can name failures the active
    # manifest's own list does not: every failure that decided the state is shown, once.
    seen_failures = {(s["code"], s["url"]) for s in statuses if s["kind"] == "failure"}
    extra = [s for s in store.get("validation_status") or [] if isinstance(s, dict)]
    for delta in validation_results.get("ingredientDeltas") or []:
        if isinstance(delta, dict):
            failures = (delta.get("validationDeltas") or {}).get("failure") or []
            # An untrusted ingredient signer (the provider's CA) is the link's own verdict, not a failure here.
            extra += [s for s in failures if isinstance(s, dict) and s.get("code") != UNTRUSTED_CODE]
    for status in extra:
        code, url = status.get("code"), status.get("url")
        if isinstance(code, str) and (code, url) not in seen_failures:
            seen_failures.add((code, url))
            statuses.insert(0, {"kind": "failure", "code": code, "explanation": status.get("explanation"), "url": url})
    library_state = str(store.get("validation_state") or "").lower()
    state = {"trusted": TRUSTED, "valid": VALID}.get(library_state, INVALID)
    if manifest is None:
        state = INVALID
        statuses.append(
            {"kind": "failure", "code": "dam.noActiveManifest", "explanation": "no active manifest", "url": None}
        )
    manifest = manifest or {}
    signer, signer_name, issuer = _signer_of(manifest, certificates.get(str(active_label), {}))
    deltas = _deltas(validation_results)
    seen = frozenset({active_label}) if isinstance(active_label, str) else frozenset()
    return CredentialsReport(
        present=True,
        valid=state in (VALID, TRUSTED),
        trusted=state == TRUSTED,
        signer=signer,
        issuer=issuer,
        actions=_actions(manifest),
        ingredients=_ingredients(store, str(active_label), certificates, deltas, seen) if manifest else (),
        validation=tuple(statuses),
        manifest_store=store,
        state=state,
        signer_name=signer_name,
        title=manifest.get("title") if isinstance(manifest.get("title"), str) else None,
        claim_generator=_claim_generator(manifest),
        format=image_format,
    )


@dataclass(frozen=True)
class ChainLink:
    """One step of a report's chain, flattened for pages: depth 0 is the file itself."""

    depth: int
    title: str | None
    signer: str | None
    actions: list[str] = field(default_factory=list)
    valid: bool | None = None
    trusted: bool = False


def flat_chain(report: CredentialsReport) -> list[ChainLink]:
    """The report's ingredient chain as rows (the file, then each ingredient depth-first): for the asset page."""
    rows = [
        ChainLink(
            depth=0,
            title=report.title,
            signer=report.signer,
            actions=[a["action"] for a in report.actions],
            valid=report.valid,
            trusted=report.trusted,
        )
    ]

    def walk(links: Any, depth: int) -> None:
        for link in links:
            rows.append(
                ChainLink(
                    depth=depth,
                    title=link.get("title"),
                    signer=link.get("signer"),
                    actions=[a["action"] for a in link.get("actions") or []],
                    valid=link.get("valid"),
                    trusted=bool(link.get("trusted")),
                )
            )
            walk(link.get("ingredients") or [], depth + 1)

    walk(report.ingredients, 1)
    return rows


class StoredFile(Protocol):
    """A version's or a rendition's row (dam.models.library.StoredImage), or anything naming a blob the same way."""

    storage_key: str
    format: str


def stored_credentials(stored: StoredFile, *, trust_anchors_pem: bytes | None = None) -> CredentialsReport:
    """The report of a stored original or rendition, read from blob storage (a missing blob is a report too)."""
    # Asked first: a missing blob is an OSError on the filesystem but a ResourceNotFoundError in Azure Blob.
    if not default_storage.exists(stored.storage_key):
        logger.warning("stored file %s is missing", stored.storage_key)
        return _unreadable(stored.format, "the stored file could not be read")
    try:
        data = blob_read(stored.storage_key)
    except OSError as error:
        logger.warning("stored file %s could not be read: %s", stored.storage_key, error)
        return _unreadable(stored.format, "the stored file could not be read")
    return read_credentials(data, image_format=stored.format, trust_anchors_pem=trust_anchors_pem)


def verify_file(data: bytes) -> CredentialsReport:
    """The public verifier's check of a file anyone sends: the upload rules, then `read_credentials`.

    The same limits as uploads (dam.services.uploads): 413 over UPLOAD_MAX_BYTES, 415 anything but PNG, JPEG,
    WebP or AVIF (recognised from the bytes; AVIF too, because the platform delivers AVIF renditions), 422 a file
    that does not parse or declares more than UPLOAD_MAX_PIXELS. Only the header is parsed, never the pixels:
    a manifest's hashes cover the bytes, and decoding would cost far more than the check. Nothing is stored.
    """
    if len(data) > settings.UPLOAD_MAX_BYTES:
        raise UploadTooLarge(f"the file has {len(data):,} bytes; the limit is {settings.UPLOAD_MAX_BYTES:,}")
    if not data:
        raise UnreadableImage("the file is empty")
    image_format = sniff_format(data)
    if image_format is None:
        raise UnsupportedMediaType(f"{describe_refused(data)} files are not accepted; send a {labels()} image")
    info = FORMATS[image_format]
    with warnings.catch_warnings():
        # Pillow warns (a RuntimeWarning) between its limit and twice it; ours is checked below either way.
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        try:
            with Image.open(io.BytesIO(data), formats=[info.pil_format]) as probe:
                width, height = probe.size
        except Image.DecompressionBombError as error:
            raise TooManyPixels(f"the image declares too many pixels: {error}") from None
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError, struct.error) as error:
            raise UnreadableImage(f"not a readable {info.label} image: {error}") from None
    limit = max_upload_pixels()
    if width * height > limit:
        raise TooManyPixels(f"{width}x{height} is {width * height:,} pixels; the limit is {limit:,}")
    report = read_credentials(data, image_format=image_format)
    if report.state == UNREADABLE:
        raise UnreadableImage(f"the {info.label} file could not be read: {report.error}")
    return report
