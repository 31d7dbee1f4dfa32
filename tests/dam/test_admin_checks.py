"""The copy and brand checks in the staff UI: badges on the review board and the asset page, the asset page's
panel with each check's evidence in words, the evidence picture (tenant-scoped, never for a blocked version), the
board's checks filter, and the badges' colours readable (contrast)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from dam.lifecycle import VersionStatus
from dam.models import AssetVersion, ChecksState, VersionCheck
from tests.support.checks import EVIDENCE_PNG, checked_version, make_version, run_checks_on_render, set_checks

pytestmark = pytest.mark.django_db

BOARD = "/admin/governance/review/"


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _evidence_url(check: VersionCheck) -> str:
    return f"/admin/dam/asset/check/{check.pk}/evidence/"


def _copy_check(version: AssetVersion) -> VersionCheck:
    return VersionCheck.objects.for_tenant(version.tenant_id).get(version=version, kind="copy")


# --- the asset page --------------------------------------------------------------------------------------------


def test_the_asset_page_shows_each_check_with_its_evidence_in_words(alice):
    version = checked_version(alice.tenant, title="Summer hero")
    client = _client(alice.user)
    with CaptureQueriesContext(connection) as queries:
        response = client.get(f"/admin/dam/asset/{version.asset_id}/change/")
    assert response.status_code == 200
    html = response.content.decode()
    panel = html[html.index('id="checks"') : html.index("</section>", html.index('id="checks"'))]
    # The overview: the copy verdict (its title gives the text read and the error rate) and the brand score.
    assert 'data-checks-copy="near"' in panel and "copy near" in panel
    assert "Read back: “Sumer sale” · character error rate 0.09" in panel
    assert 'data-brand-score="2/5"' in panel and "2 of 5 brand checks passed" in panel
    # One row per check, in the reviewer's words.
    assert re.findall(r'data-check="([^"]+)"', panel) == ["copy", "crop:leaderboard", "palette", "legibility", "logo"]
    assert "Summer sale" in panel and "Sumer sale" in panel and "0.091 (9.1% of the characters differ)" in panel
    assert "“m” missing (character 4)" in panel
    assert "window moved to keep the copy whole" in panel and "moved (focal point kept)" in panel
    assert "18 px in the placement (minimum 12 px)" in panel
    assert "off palette" in panel and "41% of the picture (needs 60%" in panel
    assert 'fill="#ff00aa"' in panel and 'fill="#0b7a50"' in panel and "nearest #0a7b4f (ΔE 61.2)" in panel
    assert "url(x)" not in panel  # a colour that is not a hex colour is never drawn
    assert "contrast 3.2:1" in panel and "3.21:1 (needs 4.5:1)" in panel and 'fill="#777777"' in panel
    assert "logo found" in panel and "8.3% of the picture&#x27;s width (needs 5.0%)" in panel
    # Evidence pictures for the checks that drew one; no style attribute anywhere (the CSP allows none).
    copy_check = _copy_check(version)
    assert panel.count(_evidence_url(copy_check)) == 2  # the link and the thumbnail
    assert panel.count('class="ui-check-evidence"') == 2
    assert " style=" not in panel
    # The page read the checks once.
    reads = [q["sql"] for q in queries.captured_queries if '"dam_versioncheck"' in q["sql"]]
    assert len(reads) == 1, reads
    # The header and the timeline carry the badges too.
    assert html.count('data-checks-copy="near"') == 3


def test_a_pending_or_failed_version_says_so_and_an_unchecked_one_has_no_panel(alice):
    pending = make_version(alice.tenant, title="pending one")
    set_checks(pending, state=ChecksState.PENDING)
    failed = make_version(alice.tenant, title="failed one")
    set_checks(failed, state=ChecksState.FAILED)
    plain = make_version(alice.tenant, title="plain one")
    client = _client(alice.user)
    html = client.get(f"/admin/dam/asset/{pending.asset_id}/change/").content.decode()
    assert 'id="checks"' in html and "checking copy…" in html and "cannot be approved until the checks finish" in html
    html = client.get(f"/admin/dam/asset/{failed.asset_id}/change/").content.decode()
    assert 'data-checks="failed"' in html and "check failed" in html and "was not approved automatically" in html
    html = client.get(f"/admin/dam/asset/{plain.asset_id}/change/").content.decode()
    assert 'id="checks"' not in html and "data-checks" not in html


# --- the evidence picture --------------------------------------------------------------------------------------


def test_the_evidence_picture_is_served_privately_to_the_tenant_only(alice, bob, charlie):
    check = _copy_check(checked_version(alice.tenant))
    url = _evidence_url(check)
    response = _client(bob.user).get(url)
    assert response.status_code == 200
    assert response["Content-Type"] == "image/png"
    assert response.content == EVIDENCE_PNG
    assert "private" in response["Cache-Control"]  # as the version's own file: never in a shared cache
    etag = response["ETag"]
    assert etag.strip('"') == Path(check.evidence_key).stem
    assert _client(bob.user).get(url, headers={"If-None-Match": etag}).status_code == 304
    # Another tenant's staff: the same 404 as a check that does not exist.
    assert _client(charlie.user).get(url).status_code == 404
    assert _client(alice.user).get(f"/admin/dam/asset/check/{check.pk + 1000}/evidence/").status_code == 404
    # A check without a picture.
    palette = VersionCheck.objects.for_tenant(alice.tenant).get(version=check.version, kind="palette")
    assert _client(alice.user).get(_evidence_url(palette)).status_code == 404


def test_a_blocked_versions_evidence_is_never_served_nor_linked(alice):
    version = checked_version(alice.tenant, status=VersionStatus.BLOCKED, verdict="mismatch")
    check = _copy_check(version)
    client = _client(alice.user)
    assert client.get(_evidence_url(check)).status_code == 404
    html = client.get(f"/admin/dam/asset/{version.asset_id}/change/").content.decode()
    assert 'id="checks"' in html and "copy mismatch" in html
    assert "/evidence/" not in html


# --- the review board ------------------------------------------------------------------------------------------


def test_board_cards_carry_the_badges_and_a_pending_version_offers_no_approve(alice, bob):
    near = checked_version(alice.tenant, title="near-one")
    exact = checked_version(alice.tenant, title="exact-one", verdict="exact")
    pending = make_version(alice.tenant, title="pending-one")
    set_checks(pending, state=ChecksState.PENDING)
    make_version(alice.tenant, title="unchecked-one")
    html = _client(bob.user).get(BOARD).content.decode()

    def card(version) -> str:
        start = html.index(f'id="review-{version.pk}"')
        return html[start : html.index("</li>", start)]

    assert 'data-checks-copy="near"' in card(near) and "brand 2/5" in card(near)
    assert 'data-checks-copy="exact"' in card(exact)
    assert "checking copy…" in card(pending) and "data-approve" not in card(pending)
    assert "data-checks-wait" in card(pending) and "data-reject-open" in card(pending)
    assert "data-approve" in card(exact)
    assert html.count("data-checks-badges") == 3


def test_the_board_filters_by_what_the_checks_found_in_sql(alice, bob, charlie):
    near = checked_version(alice.tenant, title="near-one")
    mismatch = checked_version(alice.tenant, title="mismatch-one", verdict="mismatch")
    exact = checked_version(alice.tenant, title="exact-one", verdict="exact")
    set_checks(
        exact,
        state=ChecksState.DONE,
        copy={"verdict": "exact", "cer": 0.0, "read": "Summer sale"},
        score={"passed": 5, "run": 5},
    )
    failed = make_version(alice.tenant, title="failed-one")
    set_checks(failed, state=ChecksState.FAILED)
    pending = make_version(alice.tenant, title="pending-one")
    set_checks(pending, state=ChecksState.PENDING)
    plain = make_version(alice.tenant, title="plain-one")
    checked_version(charlie.tenant, title="other-tenant-near")
    client = _client(bob.user)

    def shown(checks: str) -> set[int]:
        response = client.get(BOARD, {"checks": checks})
        assert response.status_code == 200
        return {item.version.pk for item in response.context["items"]}

    assert shown("") == {near.pk, mismatch.pk, exact.pk, failed.pk, pending.pk, plain.pk}
    assert shown("copy") == {near.pk, mismatch.pk}
    assert shown("brand") == {near.pk, mismatch.pk}  # 2/5 each; the exact one passed 5/5
    assert shown("failed") == {failed.pk}
    assert shown("pending") == {pending.pk}
    assert shown("bogus") == shown("")  # an unknown value is ignored, not a 500
    page = client.get(BOARD, {"checks": "copy"}).content.decode()
    assert '<option value="copy" selected>' in page
    assert 'name="checks" value="copy"' in page  # kept by the decision forms and the bulk bar


# --- colours ---------------------------------------------------------------------------------------------------


def _luminance(hex_colour: str) -> float:
    channels = [int(hex_colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def test_every_check_badge_colour_reaches_4_5_to_1_on_its_background():
    css = Path("ui/static/ui/dam-admin.css").read_text()
    block = css[css.index("Issue 18 · copy and brand checks") : css.index("end issue 18 block")]
    rules = re.findall(r"([^{}]*\.ui-check-[^{}]*)\{\s*background:\s*(#[0-9a-f]{6});\s*color:\s*(#[0-9a-f]{6});", block)
    assert len(rules) >= 6, rules
    for selector, background, colour in rules:
        high, low = sorted((_luminance(background), _luminance(colour)), reverse=True)
        assert (high + 0.05) / (low + 0.05) >= 4.5, selector


def test_a_version_checked_by_the_service_shows_what_it_found(alice):
    """The panel on the evidence the real checks record (an emulator render with one letter substituted, an
    off-palette brand): every recorded check has its row, the copy's texts are shown, its picture is served."""
    policy = {"palette": ["#1f4d3a", "#f2efe6", "#c8a24a"], "palette_max_delta_e": "12", "palette_min_score": "0.5"}
    version = run_checks_on_render(alice.tenant, text_fault="substitute", policy=policy)
    recorded = list(VersionCheck.objects.for_tenant(alice.tenant).filter(version=version))
    copy = next(check for check in recorded if check.kind == "copy")
    assert copy.verdict in ("near", "mismatch"), copy.evidence
    client = _client(alice.user)
    html = client.get(f"/admin/dam/asset/{version.asset_id}/change/").content.decode()
    panel = html[html.index('id="checks"') : html.index("</section>", html.index('id="checks"'))]
    assert sorted(re.findall(r'data-check="([^"]+)"', panel)) == sorted(check.kind for check in recorded)
    assert f'data-checks-copy="{copy.verdict}"' in panel
    assert copy.evidence["expected"] in panel and copy.evidence["read"] in panel
    assert "data-differences" in panel and "read as" in panel  # the substituted letter, in words
    assert "ui-check-swatch" in panel  # the palette's colours found
    picture = client.get(_evidence_url(copy))
    assert picture.status_code == 200 and picture.content[:8] == b"\x89PNG\r\n\x1a\n"


def test_copy_with_a_character_no_ocr_model_writes_says_so_instead_of_blaming_the_render(alice):
    """Debian's Korean model has no "앱" (app): a correct render of "앱 다운로드" reads "앰 다운로드" and cannot read
    exact. The verdict stays (a person looks), and the evidence, the summary, the badge and the panel say why."""
    # The tenant blocks mismatches: a correct render must not be blocked for what the models cannot read.
    blocking = {"copy_mismatch_action": "block"}
    version = run_checks_on_render(alice.tenant, copy="앱 다운로드", locale="ko", policy=blocking)
    copy = _copy_check(version)
    # "앱" dropped or read as a neighbour: near (a person looks), never a mismatch the policy could block on.
    assert copy.verdict == "near", copy.evidence
    assert copy.evidence["unreadable"] == ["앱"]
    assert version.checks_summary["copy"]["unreadable"] == ["앱"]
    assert version.status == VersionStatus.NEEDS_REVIEW
    html = _client(alice.user).get(f"/admin/dam/asset/{version.asset_id}/change/").content.decode()
    panel = html[html.index('id="checks"') : html.index("</section>", html.index('id="checks"'))]
    assert "Cannot be read back" in panel and "앱: not among the characters the OCR models can write" in panel
    assert "the OCR models cannot write it: check by eye" in panel  # on the difference itself
    assert "the OCR models cannot write 앱: check by eye" in panel  # the badge's title


def test_copy_every_character_of_which_a_model_writes_names_none(alice):
    version = run_checks_on_render(alice.tenant, copy="여름 세일", locale="ko")
    copy = _copy_check(version)
    assert copy.verdict == "exact", copy.evidence
    assert copy.evidence["unreadable"] == [] and version.checks_summary["copy"]["unreadable"] == []
    html = _client(alice.user).get(f"/admin/dam/asset/{version.asset_id}/change/").content.decode()
    assert "Cannot be read back" not in html and "cannot write" not in html
