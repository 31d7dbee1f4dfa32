"""Signing keys at rest, their certificates, rotation, and the local development CA.

Private keys are encrypted with the same keys as the other credentials in the database (FIELD_ENCRYPTION_KEY,
comma-separated for rotation, a key derived from SECRET_KEY in development). The Fernet helper is a copy of
generation.foundry.encryption's and dam.webhooks.secrets': dam may not import generation, and no shared helper lives
in tenants or governance.

C2PA validators refuse a self-signed end-entity certificate, so every key is certified by a CA: in production the
tenant's or the platform's CA (`key_from_pem`), in development a local dev CA created on first use under
C2PA_DEV_CA_DIR (`dev_ca`, `key_issue_from_dev_ca`).
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import os
import tempfile
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from cryptography import x509
from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from dam.models import SigningKey
from tenants.audit import Actor, audit

# id-kp-documentSigning (RFC 9336): with emailProtection, an extended key usage C2PA accepts for claim signing.
DOCUMENT_SIGNING = x509.ObjectIdentifier("1.3.6.1.5.5.7.3.36")


class KeyDecryptionError(RuntimeError):
    """A stored private key cannot be decrypted with the configured FIELD_ENCRYPTION_KEY."""


@cache
def _fernet(keys_setting: str, secret_key: str) -> MultiFernet:
    keys = [k.strip() for k in keys_setting.split(",") if k.strip()]
    if not keys:
        digest = hashlib.sha256(b"dam-field-encryption:" + secret_key.encode()).digest()
        keys = [base64.urlsafe_b64encode(digest).decode()]
    return MultiFernet([Fernet(key) for key in keys])


def encrypt_private_key(pem: bytes) -> str:
    return _fernet(settings.FIELD_ENCRYPTION_KEY, settings.SECRET_KEY).encrypt(pem).decode("ascii")


def decrypt_private_key(token: str) -> bytes:
    try:
        return _fernet(settings.FIELD_ENCRYPTION_KEY, settings.SECRET_KEY).decrypt(token.encode("ascii"))
    except InvalidToken:
        raise KeyDecryptionError("signing key cannot be decrypted with the configured FIELD_ENCRYPTION_KEY") from None


def stored_keys_readable() -> bool:
    """The stored private keys decrypt with this configuration (one is tried: all are written with the same one,
    and a rotation keeps the old key in FIELD_ENCRYPTION_KEY's list)."""
    token = (
        SigningKey.unscoped.exclude(private_key_encrypted="").values_list("private_key_encrypted", flat=True).first()
    )
    if token is None:
        return True
    try:
        decrypt_private_key(token)
    except KeyDecryptionError:
        return False
    return True


def algorithm_of(key: object) -> str:
    """c2pa's algorithm name for a private key."""
    if isinstance(key, ec.EllipticCurvePrivateKey):
        return {"secp256r1": "es256", "secp384r1": "es384", "secp521r1": "es512"}[key.curve.name]
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return "ed25519"
    if isinstance(key, rsa.RSAPrivateKey):
        return "ps256"
    raise ValueError(f"unsupported signing key type {type(key).__name__}")


def sign_with(key: object, algorithm: str, data: bytes) -> bytes:
    """A C2PA claim signature with a local private key (what a KMS/HSM callback replaces)."""
    if isinstance(key, ec.EllipticCurvePrivateKey):
        digest = {"es256": hashes.SHA256(), "es384": hashes.SHA384(), "es512": hashes.SHA512()}[algorithm]
        return key.sign(data, ec.ECDSA(digest))  # DER; c2pa converts it to the COSE form
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return key.sign(data)
    if isinstance(key, rsa.RSAPrivateKey):
        from cryptography.hazmat.primitives.asymmetric import padding

        digest = {"ps256": hashes.SHA256(), "ps384": hashes.SHA384(), "ps512": hashes.SHA512()}[algorithm]
        return key.sign(data, padding.PSS(mgf=padding.MGF1(digest), salt_length=digest.digest_size), digest)
    raise ValueError(f"unsupported signing key type {type(key).__name__}")


def _chain_certificates(chain_pem: bytes) -> list[x509.Certificate]:
    chain = x509.load_pem_x509_certificates(chain_pem)
    if not chain:
        raise ValueError("the certificate chain holds no certificate")
    return chain


def check_end_entity(chain_pem: bytes, private_key_pem: bytes | None = None) -> x509.Certificate:
    """The chain's end-entity certificate, refused if C2PA would refuse it (self-signed, a CA, no signing usage)
    or if it does not match the private key."""
    leaf = _chain_certificates(chain_pem)[0]
    if leaf.issuer == leaf.subject:
        raise ValueError("the end-entity certificate is self-signed: C2PA requires one issued by a CA")
    try:
        if leaf.extensions.get_extension_for_class(x509.BasicConstraints).value.ca:
            raise ValueError("the end-entity certificate is a CA certificate")
    except x509.ExtensionNotFound:
        pass
    try:
        usages = leaf.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    except x509.ExtensionNotFound:
        raise ValueError("the end-entity certificate has no extended key usage (C2PA needs one)") from None
    if not ({ExtendedKeyUsageOID.EMAIL_PROTECTION, DOCUMENT_SIGNING} & set(usages)):
        raise ValueError("the end-entity certificate allows neither emailProtection nor documentSigning")
    if private_key_pem is not None:
        key = serialization.load_pem_private_key(private_key_pem, None)
        public = key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        leaf_public = leaf.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        if public != leaf_public:
            raise ValueError("the private key does not belong to the end-entity certificate")
    return leaf


def _name(common_name: str, organization: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization[:64] or common_name[:64]),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name[:64]),
        ]
    )


def _key_usage(*, signing: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=signing,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=not signing,
        crl_sign=not signing,
        encipher_only=False,
        decipher_only=False,
    )


@dataclass(frozen=True)
class LocalCA:
    """A CA whose key is on this machine (the dev CA, the emulator's, a test's): root + intermediate."""

    root: x509.Certificate
    intermediate: x509.Certificate
    intermediate_key: ec.EllipticCurvePrivateKey

    @property
    def root_pem(self) -> bytes:
        return self.root.public_bytes(serialization.Encoding.PEM)

    def issue(self, public_key: object, *, common_name: str, organization: str = "", days: int = 825) -> bytes:
        """An end-entity C2PA signing certificate for `public_key`; returns the chain PEM (leaf, intermediate)."""
        now = dt.datetime.now(dt.UTC)
        cert = (
            x509.CertificateBuilder()
            .subject_name(_name(common_name, organization))
            .issuer_name(self.intermediate.subject)
            .public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(hours=1))
            .not_valid_after(now + dt.timedelta(days=days))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(_key_usage(signing=True), critical=True)
            .add_extension(
                x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION, DOCUMENT_SIGNING]), critical=False
            )
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self.intermediate_key.public_key()),
                critical=False,
            )
            .sign(self.intermediate_key, hashes.SHA256())
        )
        return cert.public_bytes(serialization.Encoding.PEM) + self.intermediate.public_bytes(
            serialization.Encoding.PEM
        )


def _ca_certificate(
    subject: x509.Name, key: ec.EllipticCurvePrivateKey, issuer: x509.Name, issuer_key, path_length: int
) -> x509.Certificate:
    now = dt.datetime.now(dt.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=path_length), critical=True)
        .add_extension(_key_usage(signing=False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()), critical=False)
        .sign(issuer_key, hashes.SHA256())
    )


def new_local_ca(name: str) -> tuple[LocalCA, bytes]:
    """A new root + intermediate (EC P-256); returns the CA and its files as one PEM (root, intermediate, key)."""
    root_key = ec.generate_private_key(ec.SECP256R1())
    root_name = _name(f"{name} Root CA", name)
    root = _ca_certificate(root_name, root_key, root_name, root_key, 1)
    inter_key = ec.generate_private_key(ec.SECP256R1())
    inter = _ca_certificate(_name(f"{name} Intermediate CA", name), inter_key, root_name, root_key, 0)
    bundle = (
        root.public_bytes(serialization.Encoding.PEM)
        + inter.public_bytes(serialization.Encoding.PEM)
        + inter_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return LocalCA(root, inter, inter_key), bundle


def load_local_ca(bundle: bytes) -> LocalCA:
    root, inter = x509.load_pem_x509_certificates(bundle)[:2]
    key = serialization.load_pem_private_key(bundle, None)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    return LocalCA(root, inter, key)


def local_ca_at(path: Path, *, name: str) -> LocalCA:
    """The CA kept in `path` (one PEM file), created there on first use; concurrent first uses agree on one."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        _, bundle = new_local_ca(name)
        fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=".ca-")
        with os.fdopen(fd, "wb") as handle:
            handle.write(bundle)
        try:
            os.link(temporary, path)  # fails if another process made it first: theirs wins
        except FileExistsError:
            pass
        finally:
            os.unlink(temporary)
    return load_local_ca(path.read_bytes())


def dev_ca() -> LocalCA:
    """The development CA (C2PA_DEV_CA_DIR/dev-ca.pem): never use it in production, its root is trusted by nobody."""
    return local_ca_at(Path(settings.C2PA_DEV_CA_DIR) / "dev-ca.pem", name=settings.C2PA_DEV_CA_NAME)


def dev_trust_anchor_pem() -> bytes:
    return dev_ca().root_pem


def _describe(name: x509.Name) -> str:
    common = name.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(common[0].value) if common else name.rfc4514_string()


@transaction.atomic
def key_install(
    *,
    tenant_id: int | None,
    certificate_chain_pem: bytes,
    private_key_pem: bytes | None = None,
    kms_key_uri: str = "",
    algorithm: str | None = None,
    actor: Actor | None = None,
) -> SigningKey:
    """Make a certified key the tenant's (or the platform's, tenant None) active signing key; the one it replaces is
    retired (kept: files it signed carry its certificate and keep verifying)."""
    leaf = check_end_entity(certificate_chain_pem, private_key_pem)
    if private_key_pem is not None:
        algorithm = algorithm or algorithm_of(serialization.load_pem_private_key(private_key_pem, None))
    elif not kms_key_uri:
        raise ValueError("a signing key needs a private key or a KMS key URI")
    now = timezone.now()
    retired = SigningKey.unscoped.select_for_update().filter(tenant_id=tenant_id, active=True)
    retired_ids = list(retired.values_list("pk", flat=True))
    retired.update(active=False, retired_at=now)
    key = SigningKey.unscoped.create(
        tenant_id=tenant_id,
        algorithm=algorithm or "es256",
        certificate_chain_pem=certificate_chain_pem.decode(),
        private_key_encrypted=encrypt_private_key(private_key_pem) if private_key_pem else "",
        kms_key_uri=kms_key_uri,
        subject=_describe(leaf.subject),
        issuer=_describe(leaf.issuer),
        serial_number=format(leaf.serial_number, "x"),
        not_after=leaf.not_valid_after_utc,
    )
    if tenant_id is not None:
        audit(
            tenant=tenant_id,
            actor=actor or Actor.system("credentials"),
            action="signing_key.installed",
            target=("signing_key", key.pk),
            payload={"subject": key.subject, "issuer": key.issuer, "serial": key.serial_number, "retired": retired_ids},
        )
    return key


def key_issue_from_ca(
    *, ca: LocalCA, tenant_id: int | None, common_name: str, organization: str = "", actor: Actor | None = None
) -> SigningKey:
    """A new EC P-256 key certified by a local CA, installed (and the previous one retired): rotation."""
    private = ec.generate_private_key(ec.SECP256R1())
    chain = ca.issue(private.public_key(), common_name=common_name, organization=organization)
    pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return key_install(tenant_id=tenant_id, certificate_chain_pem=chain, private_key_pem=pem, actor=actor)


def dev_platform_key() -> SigningKey:
    """The platform key issued by the dev CA, created on first use (development and tests only)."""
    try:
        with transaction.atomic():
            return key_issue_from_ca(ca=dev_ca(), tenant_id=None, common_name=f"{settings.C2PA_CLAIM_GENERATOR}")
    except IntegrityError:  # another process installed it first
        return SigningKey.unscoped.get(tenant__isnull=True, active=True)
