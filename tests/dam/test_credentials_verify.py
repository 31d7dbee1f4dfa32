"""dam.credentials.verify.read_credentials: valid and trusted, untrusted, tampered, absent, unreadable, the chain.

Manifests are signed in the test with c2pa-python's Builder and certificates from the test CA
(tests.support.c2pa_ca), so the verifier is held to what any C2PA tool writes, not to our own signer.
"""

from __future__ import annotations

import os

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from dam.credentials.verify import (
    ABSENT,
    INVALID,
    TRUSTED,
    UNREADABLE,
    VALID,
    configured_trust_anchors,
    flat_chain,
    read_credentials,
)
from tests.support.c2pa_ca import SigningCert, build_ca, issue_signing_cert, make_test_ca
from tests.support.c2pa_images import TRAINED, plain_image, sign_image


@pytest.fixture(scope="module")
def ca():
    return make_test_ca()


@pytest.fixture(scope="module")
def brand_cert(ca):
    return issue_signing_cert(ca, common_name="Acme Content Signing", organization="Acme Brand GmbH")


@pytest.fixture(scope="module")
def provider_ca():
    # The image model's provider signs with its own CA, which we do not anchor.
    return build_ca("Provider")


@pytest.fixture(scope="module")
def provider_cert(provider_ca):
    return issue_signing_cert(provider_ca, common_name="Image Model Provider", organization="Provider")


@pytest.mark.parametrize("image_format", ["png", "jpeg", "webp", "avif"])
def test_a_signed_image_is_valid_and_trusted_with_its_ca_as_anchor(image_format, ca, brand_cert):
    signed = sign_image(plain_image(image_format), image_format=image_format, cert=brand_cert, title="hero")
    report = read_credentials(signed, trust_anchors_pem=ca.trust_anchors_pem)
    assert (report.present, report.valid, report.trusted, report.state) == (True, True, True, TRUSTED)
    assert report.signer == "Acme Brand GmbH"
    assert report.signer_name == "Acme Content Signing"
    assert report.issuer == "Test C2PA Intermediate CA (Test C2PA)"
    assert report.format == image_format
    assert report.title == "hero"
    assert report.actions == ({"action": "c2pa.created", "digitalSourceType": TRAINED},)
    assert report.failures == ()
    assert "signingCredential.trusted" in {s["code"] for s in report.validation if s["kind"] == "success"}
    assert report.manifest_store["active_manifest"] in report.manifest_store["manifests"]
    assert report.ingredients == ()


def test_another_anchor_leaves_it_valid_but_not_trusted(brand_cert):
    signed = sign_image(plain_image("jpeg"), image_format="jpeg", cert=brand_cert)
    report = read_credentials(signed, trust_anchors_pem=build_ca("Someone Else").trust_anchors_pem)
    assert (report.present, report.valid, report.trusted, report.state) == (True, True, False, VALID)
    assert [s["code"] for s in report.failures] == ["signingCredential.untrusted"]
    # No anchors at all: the same.
    assert read_credentials(signed, trust_anchors_pem=b"").state == VALID


def test_a_changed_byte_fails(ca, brand_cert):
    signed = sign_image(plain_image("png", size=(96, 96)), image_format="png", cert=brand_cert)
    tampered = bytearray(signed)
    # The last IDAT byte before IEND: image data the manifest's hash covers, not the manifest itself.
    iend = signed.rindex(b"IEND")
    tampered[iend - 10] ^= 0x01
    report = read_credentials(bytes(tampered), trust_anchors_pem=ca.trust_anchors_pem)
    assert report.present and not report.valid and not report.trusted
    assert report.state == INVALID
    assert "assertion.dataHash.mismatch" in {s["code"] for s in report.failures}


def test_a_file_without_a_manifest_is_absent_not_an_error(ca):
    for image_format in ("png", "jpeg", "webp", "avif"):
        report = read_credentials(plain_image(image_format), trust_anchors_pem=ca.trust_anchors_pem)
        assert (report.present, report.valid, report.trusted, report.state) == (False, False, False, ABSENT)
        assert report.signer is None and report.manifest_store == {} and report.validation == ()


@pytest.mark.parametrize(
    "data",
    [
        b"",
        os.urandom(4096),
        b"\x89PNG\r\n\x1a\n" + os.urandom(300),
        b"\xff\xd8\xff" + os.urandom(300),
        b"RIFF\x00\x00\x00\x00WEBPVP8 " + os.urandom(200),
        b"<svg xmlns='http://www.w3.org/2000/svg'/>",
    ],
    ids=["empty", "random", "png-head", "jpeg-head", "webp-head", "svg"],
)
def test_garbage_is_a_report_never_an_exception(data, ca):
    report = read_credentials(data, trust_anchors_pem=ca.trust_anchors_pem)
    assert not report.valid and not report.trusted
    assert report.state in (ABSENT, UNREADABLE)


def test_a_truncated_signed_file_is_not_valid(ca, brand_cert):
    signed = sign_image(plain_image("jpeg"), image_format="jpeg", cert=brand_cert)
    report = read_credentials(signed[: len(signed) * 2 // 3], trust_anchors_pem=ca.trust_anchors_pem)
    assert not report.valid and report.state in (INVALID, UNREADABLE)


def test_the_ingredient_chain_runs_rendition_original_provider(ca, brand_cert, provider_ca, provider_cert):
    provider = sign_image(plain_image("png"), image_format="png", cert=provider_cert, title="provider answer")
    original = sign_image(
        plain_image("png"),
        image_format="png",
        cert=brand_cert,
        title="original",
        parent=(provider, "png"),
        parent_title="provider answer",
        actions=[{"action": "c2pa.edited"}],
    )
    rendition = sign_image(
        plain_image("webp", size=(32, 24)),
        image_format="webp",
        cert=brand_cert,
        title="rendition",
        parent=(original, "png"),
        parent_title="original",
        actions=[{"action": "c2pa.resized"}, {"action": "c2pa.transcoded"}],
    )
    report = read_credentials(rendition, trust_anchors_pem=ca.trust_anchors_pem)
    assert report.state == TRUSTED, report.failures
    assert [a["action"] for a in report.actions] == ["c2pa.opened", "c2pa.resized", "c2pa.transcoded"]
    (original_link,) = report.ingredients
    assert original_link["title"] == "original" and original_link["relationship"] == "parentOf"
    assert original_link["signer"] == "Acme Brand GmbH"
    assert original_link["valid"] is True and original_link["trusted"] is True
    assert [a["action"] for a in original_link["actions"]] == ["c2pa.opened", "c2pa.edited"]
    (provider_link,) = original_link["ingredients"]
    assert provider_link["title"] == "provider answer"
    assert provider_link["signer"] == "Provider"
    assert provider_link["issuer"] == "Provider Intermediate CA (Provider)"
    assert provider_link["actions"] == [{"action": "c2pa.created", "digitalSourceType": TRAINED}]
    # The provider's CA is not among our anchors: its manifest is intact, not trusted.
    assert provider_link["valid"] is True and provider_link["trusted"] is False
    assert provider_link["ingredients"] == []
    rows = flat_chain(report)
    assert [(row.depth, row.title, row.signer) for row in rows] == [
        (0, "rendition", "Acme Brand GmbH"),
        (1, "original", "Acme Brand GmbH"),
        (2, "provider answer", "Provider"),
    ]
    # Trusting the provider's CA too makes its link trusted.
    both = read_credentials(rendition, trust_anchors_pem=ca.trust_anchors_pem + provider_ca.trust_anchors_pem)
    assert both.ingredients[0]["ingredients"][0]["trusted"] is True


def test_a_plain_ingredient_has_no_signer(ca, brand_cert):
    edited = sign_image(
        plain_image("jpeg"),
        image_format="jpeg",
        cert=brand_cert,
        parent=(plain_image("png"), "png"),
        parent_title="product photo",
        actions=[{"action": "c2pa.edited"}],
    )
    report = read_credentials(edited, trust_anchors_pem=ca.trust_anchors_pem)
    assert report.valid
    (photo,) = report.ingredients
    assert photo["title"] == "product photo" and photo["manifest"] is None and photo["signer"] is None


def test_the_report_serialises_to_json(ca, brand_cert):
    import json

    signed = sign_image(plain_image("png"), image_format="png", cert=brand_cert)
    data = read_credentials(signed, trust_anchors_pem=ca.trust_anchors_pem).to_dict()
    assert json.loads(json.dumps(data))["state"] == TRUSTED
    assert "manifest_store" not in read_credentials(signed).to_dict(include_store=False)


def test_the_configured_anchors_file_is_read(tmp_path, settings, ca, brand_cert):
    signed = sign_image(plain_image("png"), image_format="png", cert=brand_cert)
    settings.C2PA_TRUST_ANCHORS = ""
    settings.C2PA_DEV_CA = False
    assert configured_trust_anchors() == b""
    assert read_credentials(signed).state == VALID
    anchors = tmp_path / "anchors.pem"
    anchors.write_bytes(ca.trust_anchors_pem)
    settings.C2PA_TRUST_ANCHORS = str(anchors)
    assert read_credentials(signed).state == TRUSTED
    # A missing file trusts nothing (and logs), it does not break verification.
    settings.C2PA_TRUST_ANCHORS = str(tmp_path / "missing.pem")
    assert read_credentials(signed).state == VALID


def test_an_ingredient_this_read_finds_broken_is_invalid_in_the_chain():
    """c2pa's verdict on an ingredient comes as a delta keyed by the ingredient assertion's URI (the store below is
    the shape c2pa-rs writes, trimmed): it wins over what the signer recorded, and its failure is the report's."""
    from dam.credentials.verify import _report

    active, parent = "urn:c2pa:active", "urn:c2pa:parent"
    signature = {"alg": "Es256", "issuer": "Tenant A", "common_name": "Signer"}
    store = {
        "active_manifest": active,
        "manifests": {
            active: {
                "title": "rendition",
                "signature_info": signature,
                "assertions": [{"label": "c2pa.actions.v2", "data": {"actions": [{"action": "c2pa.opened"}]}}],
                "ingredients": [
                    {
                        "title": "original",
                        "relationship": "parentOf",
                        "active_manifest": parent,
                        "label": "c2pa.ingredient.v3",
                        "validation_results": {"activeManifest": {"success": [], "failure": []}},
                    }
                ],
            },
            parent: {"title": "original", "signature_info": signature, "assertions": []},
        },
        "validation_results": {
            "activeManifest": {"success": [{"code": "claimSignature.validated", "url": "x"}], "failure": []},
            "ingredientDeltas": [
                {
                    "ingredientAssertionURI": f"self#jumbf=/c2pa/{active}/c2pa.assertions/c2pa.ingredient.v3",
                    "validationDeltas": {
                        "success": [],
                        "failure": [{"code": "ingredient.manifest.mismatch", "url": f"self#jumbf=/c2pa/{parent}"}],
                    },
                }
            ],
        },
        "validation_state": "Invalid",
    }
    report = _report(store, {}, "jpeg")
    assert report.state == INVALID and not report.valid
    assert [f["code"] for f in report.failures] == ["ingredient.manifest.mismatch"]
    (link,) = report.ingredients
    assert link["valid"] is False and link["signer"] == "Tenant A"
    assert [row.valid for row in flat_chain(report)] == [False, False]


def test_without_configured_anchors_a_local_dev_ca_is_trusted(tmp_path, settings, brand_cert):
    from dam.credentials.keys import new_local_ca

    settings.C2PA_TRUST_ANCHORS = ""
    settings.C2PA_DEV_CA_DIR = str(tmp_path)
    settings.C2PA_DEV_CA = True
    dev, bundle = new_local_ca("Dev")
    # No dev CA made yet: nothing trusted, and verifying does not create one.
    assert configured_trust_anchors() == b""
    assert not (tmp_path / "dev-ca.pem").exists()
    (tmp_path / "dev-ca.pem").write_bytes(bundle)
    assert configured_trust_anchors() == dev.root_pem
    key = ec.generate_private_key(ec.SECP256R1())
    chain = dev.issue(key.public_key(), common_name="Dev signer", organization="Dev tenant")
    cert = SigningCert(
        common_name="Dev signer",
        organization="Dev tenant",
        chain_pem=chain,
        private_key_pem=key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ),
        certificate=x509.load_pem_x509_certificates(chain)[0],
    )
    signed = sign_image(plain_image("png"), image_format="png", cert=cert)
    assert read_credentials(signed).state == TRUSTED
    # Another CA's signature stays untrusted, and C2PA_DEV_CA off trusts nothing.
    assert read_credentials(sign_image(plain_image("png"), image_format="png", cert=brand_cert)).state == VALID
    settings.C2PA_DEV_CA = False
    assert read_credentials(signed).state == VALID
