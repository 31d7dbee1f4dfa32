"""A throwaway C2PA certificate authority for tests: root -> intermediate -> end-entity signing certificates.

Everything is generated in the test run with `cryptography` (EC P-256, no network) and cached per process, so a
session pays for the root and intermediate once. The certificates carry what the C2PA trust model (and c2pa-rs's
certificate checks) require of a claim signer:

- end-entity: X.509 v3, not a CA (basicConstraints cA=false), keyUsage digitalSignature (critical), extendedKeyUsage
  with id-kp-emailProtection and id-kp-documentSigning (never anyExtendedKeyUsage), subject/authority key
  identifiers, and issued by the intermediate: C2PA refuses a self-signed end-entity certificate;
- CAs: basicConstraints cA=true (critical), keyUsage keyCertSign + cRLSign (critical).

Use:
    ca = make_test_ca()                                   # the session's root + intermediate
    cert = issue_signing_cert(ca, common_name="Acme")     # chain PEM (leaf, intermediate) + key PEM
    ca.trust_anchors_pem                                  # the root, for a Reader's trust settings
    reader_settings(ca)                                   # c2pa Context settings trusting only this root
"""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

# id-kp-documentSigning (RFC 9336); C2PA lists it beside emailProtection as a claim-signing EKU.
DOCUMENT_SIGNING = x509.ObjectIdentifier("1.3.6.1.5.5.7.3.36")


@dataclass(frozen=True)
class TestCA:
    """A root and an intermediate CA; `issue_signing_cert` signs end-entity certificates with the intermediate."""

    name: str
    root_cert: x509.Certificate
    root_key: ec.EllipticCurvePrivateKey
    intermediate_cert: x509.Certificate
    intermediate_key: ec.EllipticCurvePrivateKey

    @property
    def trust_anchors_pem(self) -> bytes:
        """The root certificate as PEM: what a verifier trusts."""
        return self.root_cert.public_bytes(serialization.Encoding.PEM)

    @property
    def intermediate_pem(self) -> bytes:
        return self.intermediate_cert.public_bytes(serialization.Encoding.PEM)


@dataclass(frozen=True)
class SigningCert:
    """An end-entity signing certificate: `chain_pem` is leaf then intermediate (no root), as C2PA embeds it."""

    common_name: str
    organization: str
    chain_pem: bytes
    private_key_pem: bytes
    certificate: x509.Certificate

    @property
    def certificate_pem(self) -> bytes:
        return self.certificate.public_bytes(serialization.Encoding.PEM)


def _name(common_name: str, organization: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "DE"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _ca_cert(
    *,
    subject: x509.Name,
    key: ec.EllipticCurvePrivateKey,
    issuer: x509.Name,
    issuer_key: ec.EllipticCurvePrivateKey,
    path_length: int | None,
    days: int,
) -> x509.Certificate:
    now = dt.datetime.now(dt.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=path_length), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()), critical=False)
        .sign(issuer_key, hashes.SHA256())
    )


def build_ca(name: str = "Test C2PA", *, days: int = 3650) -> TestCA:
    """A fresh root + intermediate (uncached: the emulator and `create_signing_key` use their own)."""
    root_key = ec.generate_private_key(ec.SECP256R1())
    root_name = _name(f"{name} Root CA", name)
    root = _ca_cert(subject=root_name, key=root_key, issuer=root_name, issuer_key=root_key, path_length=1, days=days)
    inter_key = ec.generate_private_key(ec.SECP256R1())
    inter = _ca_cert(
        subject=_name(f"{name} Intermediate CA", name),
        key=inter_key,
        issuer=root_name,
        issuer_key=root_key,
        path_length=0,
        days=days,
    )
    return TestCA(name=name, root_cert=root, root_key=root_key, intermediate_cert=inter, intermediate_key=inter_key)


@functools.cache
def make_test_ca(name: str = "Test C2PA") -> TestCA:
    """The session's test CA (one per name per process)."""
    return build_ca(name)


def issue_signing_cert(
    ca: TestCA,
    *,
    common_name: str = "Test Tenant",
    organization: str | None = None,
    days: int = 365,
    not_before: dt.datetime | None = None,
) -> SigningCert:
    """A new end-entity C2PA signing certificate + key from `ca`'s intermediate (a new key every call)."""
    key = ec.generate_private_key(ec.SECP256R1())
    start = not_before or (dt.datetime.now(dt.UTC) - dt.timedelta(hours=1))
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(common_name, organization or common_name))
        .issuer_name(ca.intermediate_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION, DOCUMENT_SIGNING]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca.intermediate_key.public_key()), critical=False
        )
        .sign(ca.intermediate_key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    chain = cert.public_bytes(serialization.Encoding.PEM) + ca.intermediate_pem
    return SigningCert(
        common_name=common_name,
        organization=organization or common_name,
        chain_pem=chain,
        private_key_pem=key_pem,
        certificate=cert,
    )


@functools.cache
def cached_signing_cert(common_name: str = "Test Tenant", ca_name: str = "Test C2PA") -> SigningCert:
    """One signing certificate per (common name, CA) per process, for tests that only need *a* signer."""
    return issue_signing_cert(make_test_ca(ca_name), common_name=common_name)


def reader_settings(ca: TestCA | None = None, *, extra_anchors_pem: bytes = b"") -> dict:
    """c2pa Context settings that trust `ca`'s root (plus any extra anchors) and verify trust."""
    anchors = (ca or make_test_ca()).trust_anchors_pem + extra_anchors_pem
    return {
        "verify": {"verify_trust": True},
        "trust": {"trust_anchors": anchors.decode()},
    }
