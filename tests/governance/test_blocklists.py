"""Custom blocklists: terms and regular expressions caught in any script, across case and Unicode normalisation,
before any spend; the 422 names the rule (the item's id), never the term."""

from __future__ import annotations

import unicodedata

import pytest

from generation.models import Job
from governance.safety.moderation import blocklist_hits
from governance.safety.presets import PRESETS
from governance.selectors.safety import safety_policy_for
from governance.services.safety import safety_config_update
from tests.support.errors import error_codes, error_message, names_field
from tests.support.moderation import content_safety_calls

pytestmark = pytest.mark.django_db

NFD, NFC, NFKC = "NFD", "NFC", "NFKC"


def nf(form: str, text: str) -> str:
    return unicodedata.normalize(form, text)


def fullwidth(text: str) -> str:
    """ASCII letters as their full-width forms (what NFKC folds back)."""
    return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in text)


# (blocklist term as the tenant typed it, how it appears in the prompt or copy)
CASES = {
    # Japanese: half-width katakana with a voiced mark versus full-width.
    "ja-halfwidth": ("バーゲン", "夏の\uff8a\uff9e\uff70\uff79\uff9e\uff9d開催"),
    # Japanese: a voiced kana decomposed (カ + combining dakuten) versus precomposed ガ.
    "ja-decomposed": ("ガラクタ", "\u30ab\u3099\u30e9\u30af\u30bf の山"),
    # Hindi: precomposed क़ (U+0958, a composition exclusion) versus क + nukta.
    "hi-nukta": ("\u0958ीमत", "सबसे कम \u0915\u093cीमत पर"),
    # Hindi: the term in NFD, the text in NFC, mixed with Latin upper case.
    "hi-case": (nf(NFD, "सस्ता SALE"), "आज सस्ता sale है"),
    # Bengali: ো as one code point (U+09CB) versus े + া.
    "bn-vowel-sign": ("বোকা", "একটা \u09ac\u09c7\u09be\u0995\u09be ছবি"),
    # Bengali: ড় precomposed (U+09DC) versus ড + nukta.
    "bn-nukta": ("\u09ac\u09dc সেল", "\u09ac\u09a1\u09bc সেল আজ"),
    # Latin: full-width capitals and a combining accent.
    "latin-fullwidth": ("café crème", fullwidth("CAFE") + "\u0301 CRÈME for all"),
}


def _block(tenant, *items):
    return safety_config_update(tenant=tenant, blocklist=list(items))


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_term_is_found_across_normalisation_forms_and_case(tenant_a, case):
    term, text = CASES[case]
    config = _block(tenant_a, {"text": term})
    policy = config.as_policy()
    hits = blocklist_hits(policy=policy, texts={"prompt": "a product photo", "locales.x": text})
    assert [hit.item_id for hit in hits["locales.x"]] == [policy.blocklist[0].id]
    assert hits["prompt"] == []


@pytest.mark.parametrize("form", [NFC, NFD, NFKC])
def test_the_same_text_in_every_normalisation_form_is_caught(tenant_a, form):
    policy = _block(tenant_a, {"text": "গ্রীষ্মের ছাড়"}, {"text": "激安"}).as_policy()
    for text in ("গ্রীষ্মের ছাড় চলছে", "本日激安セール"):
        assert blocklist_hits(policy=policy, texts={"t": nf(form, text)})["t"], (form, text)


def test_whole_words_in_spaced_scripts_and_anywhere_in_unspaced_ones(tenant_a):
    policy = _block(tenant_a, {"text": "sale"}, {"text": "सेल"}, {"text": "セール"}).as_policy()
    texts = {"latin": "wholesale prices", "hindi": "सेलिब्रेशन", "japanese": "ビッグセールです"}
    hits = blocklist_hits(policy=policy, texts=texts)
    assert (hits["latin"], hits["hindi"]) == ([], [])
    assert len(hits["japanese"]) == 1


@pytest.mark.parametrize(
    ("pattern", "text"),
    [
        (r"free\s+gift", "Get a FREE   Gift today"),
        (r"free\s+gift", fullwidth("free gift") + " inside"),
        (r"無料.{0,3}プレゼント", "今なら無料でプレゼント"),
        (r"\d+\s*%\s*(off|छूट)", "आज 50 % छूट"),
    ],
)
def test_a_regular_expression_item_is_caught(tenant_a, pattern, text):
    policy = _block(tenant_a, {"text": pattern, "regex": True}).as_policy()
    (hit,) = blocklist_hits(policy=policy, texts={"prompt": text})["prompt"]
    assert hit.regex and hit.item_id == policy.blocklist[0].id


@pytest.mark.parametrize("pattern", [r"(a|aa)+$", r"(\d|\d\d)+z", r"(\w+\s?)+$"])
def test_a_pattern_that_backtracks_catastrophically_is_refused_when_saved(tenant_a, pattern):
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError, match="catastrophic backtracking"):
        _block(tenant_a, {"text": pattern, "regex": True})


def test_a_search_that_runs_out_of_time_counts_as_a_match(caplog):
    """A safety screen fails closed: a pattern stored before the check existed cannot hang a worker."""
    import regex

    from governance.safety.matching import pattern_occurs

    slow = regex.compile(r"(a|aa)+$", regex.IGNORECASE)
    assert pattern_occurs(slow, "a" * 80 + "!")
    assert "ran out of time" in caplog.text
    assert not pattern_occurs(regex.compile(r"free\s+gift", regex.IGNORECASE), "a" * 80 + "!")


def test_a_blocked_prompt_is_a_422_naming_the_rule_but_not_the_term(alice, bob):
    config = _block(alice.tenant, {"text": "激安"}, {"text": r"free\s+gift", "regex": True})
    ids = {item["text"]: item["id"] for item in config.blocklist}
    body = {"prompt": "Summer sale", "locales": {"ja": "本日ｹﾞｷﾔｽ激安"}}
    copy = alice.client().post("/api/v1/jobs", body, format="json")
    regex = alice.client().post("/api/v1/jobs", {"prompt": "FREE  GIFT with every order"}, format="json")
    assert (copy.status_code, regex.status_code) == (422, 422)
    assert "safety_blocked" in error_codes(copy) and names_field(copy, "locales")
    assert ids["激安"] in error_message(copy, "locales") and "激安" not in copy.content.decode()
    regex_message = error_message(regex, "prompt")
    assert ids[r"free\s+gift"] in regex_message and "gift" not in regex_message.lower()
    assert not Job.objects.for_tenant(alice.tenant).exists()


def test_the_brand_style_guide_is_part_of_the_checked_prompt(alice):
    from tenants.services import brand_policy_update

    brand_policy_update(tenant=alice.tenant, style_guide="Always show a Free Gift ribbon")
    _block(alice.tenant, {"text": r"free\s+gift", "regex": True})
    response = alice.client().post("/api/v1/jobs/plan", {"prompt": "A kayak"}, format="json")
    assert response.status_code == 422 and "safety_blocked" in error_codes(response)


def test_with_the_azure_backend_the_blocklist_is_synced_to_the_service_and_matched_there_too(alice, azure_moderation):
    config = _block(alice.tenant, {"text": "バーゲン"})
    body = {"prompt": "A kayak", "locales": {"ja": "バーゲン"}}
    response = alice.client().post("/api/v1/jobs/plan", body, format="json")
    assert response.status_code == 422
    calls = content_safety_calls(azure_moderation)
    assert calls["blocklist_upsert"] == 1 and calls["blocklist_add_items"] == 1
    (analysed,) = [c for c in azure_moderation.stats()["content_safety"]["recent"] if c.get("text") == "バーゲン"]
    assert analysed["blocklists"] == [f"dam-t{alice.tenant.pk}-{config.as_policy().blocklist_fingerprint}"]
    assert azure_moderation.image_calls() == 0


def test_a_tenant_without_a_configuration_is_screened_by_the_default_preset(alice):
    policy = safety_policy_for(tenant=alice.tenant)
    assert policy.version == 0 and policy.preset == "general" and policy.blocklist == ()
    assert policy.prompt_thresholds == PRESETS["general"].prompt_thresholds
