"""The live plan's moderation answers are kept per tenant and safety configuration (MODERATION_CACHE_SECONDS):
a repeated plan of the same text makes no second call to the Content Safety endpoints (counted by the emulator),
a changed configuration or another tenant makes a fresh one, and a failed check is never kept."""

from __future__ import annotations

import pytest
import redis

from governance.services.safety import safety_config_update
from tests.support.errors import error_codes
from tests.support.moderation import content_safety_calls

pytestmark = [pytest.mark.integration, pytest.mark.django_db]

PLAN = {"prompt": "A kayak on a misty lake at dawn", "locales": {"de": "Sommerverkauf"}}


@pytest.fixture
def cached_moderation(settings, azure_moderation):
    settings.MODERATION_CACHE_SECONDS = 600
    settings.MODERATION_CACHE_KEY_PREFIX = f"{settings.MODERATION_CACHE_KEY_PREFIX}-cache-test"
    client = redis.Redis.from_url(settings.REDIS_URL)
    stale = list(client.scan_iter(match=f"{settings.MODERATION_CACHE_KEY_PREFIX}:*"))
    if stale:
        client.delete(*stale)
    yield azure_moderation
    for key in client.scan_iter(match=f"{settings.MODERATION_CACHE_KEY_PREFIX}:*"):
        client.delete(key)


def _plan(actor, body=PLAN):
    response = actor.client().post("/api/v1/jobs/plan", body, format="json")
    assert response.status_code == 200, response.content
    return response.json()


def _calls(emulator) -> tuple[int, int]:
    calls = content_safety_calls(emulator)
    return calls.get("text_analyze", 0), calls.get("shield_prompt", 0)


def test_a_repeated_plan_is_answered_without_a_second_moderation_call(alice, cached_moderation):
    first = _plan(alice)
    # One analysis per text (the compiled prompt and the German copy) and one prompt shield call.
    assert _calls(cached_moderation) == (2, 1)
    second = _plan(alice)
    assert _calls(cached_moderation) == (2, 1)

    def judged(plan):
        return [(v["target"], v["decision"], v["categories"], v["backend"]) for v in plan["safety_verdicts"]]

    assert judged(second) == judged(first)
    # A changed text is checked: only the changed one.
    _plan(alice, {**PLAN, "locales": {"de": "Winterverkauf"}})
    assert _calls(cached_moderation) == (3, 2)


def test_a_changed_safety_configuration_is_checked_afresh(alice, cached_moderation):
    first = _plan(alice)
    before = _calls(cached_moderation)
    safety_config_update(tenant=alice.tenant, blocklist=["canoe"])
    plan = _plan(alice)
    assert plan["safety_config_version"] != first["safety_config_version"]
    after = _calls(cached_moderation)
    assert after[0] == before[0] + 2 and after[1] == before[1] + 1
    # And the new version's answers are kept in turn.
    _plan(alice)
    assert _calls(cached_moderation) == after


def test_a_kept_answer_never_crosses_tenants(alice, charlie, cached_moderation):
    # Both tenants run the same preset and configuration version, and plan the same text: only the tenant differs.
    assert _plan(alice)["safety_config_version"] == _plan(charlie)["safety_config_version"]
    # Charlie's identical checks were calls of their own, never alice's kept answers.
    assert _calls(cached_moderation) == (4, 2)
    _plan(charlie)
    assert _calls(cached_moderation) == (4, 2)


def test_a_failed_check_is_never_kept(alice, cached_moderation, settings):
    settings.CONTENT_SAFETY_MAX_ATTEMPTS = 1
    cached_moderation.configure(content_safety={"fault_queue": ["500"]})
    client = alice.client()
    client.raise_request_exception = False  # a 5xx is reported as a request exception; the answer is what counts
    failed = client.post("/api/v1/jobs/plan", PLAN, format="json")
    assert failed.status_code == 503 and "moderation_unavailable" in error_codes(failed)
    before = _calls(cached_moderation)
    _plan(alice)
    # The text whose check failed is checked again (and the answer is kept from then on).
    assert _calls(cached_moderation)[0] > before[0]
    settled = _calls(cached_moderation)
    _plan(alice)
    assert _calls(cached_moderation) == settled


def test_a_redis_outage_skips_the_cache_and_the_check_still_runs(alice, cached_moderation, settings):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens there
    first = _plan(alice)
    second = _plan(alice)
    # Nothing could be kept, so each plan was checked by the service, and answered.
    assert _calls(cached_moderation) == (4, 2)
    assert [v["decision"] for v in first["safety_verdicts"]] == [v["decision"] for v in second["safety_verdicts"]]
