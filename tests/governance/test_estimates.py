"""Cost estimates: the price book times the planner's tokens, routing options side by side, calibrated by the ledger."""

from __future__ import annotations

import io
import json
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.utils import timezone

from generation.sizing import image_input_tokens, output_tokens, parse_size
from governance.estimates import MIN_OBSERVED_CALLS, PlannedImage, Workload, estimate_routing
from governance.prices import price_sheet_at
from governance.services.ledger import ledger_charge_response
from tenants.models import Scope
from tenants.services import placement_create
from tests.support.actors import key_holder
from tests.support.errors import names_field

pytestmark = pytest.mark.django_db
PRICE = {
    "text_input": 5,
    "cached_text_input": Decimal("1.25"),
    "image_input": 8,
    "cached_image_input": 2,
    "image_output": 30,
}


def estimate(client, **body):
    response = client.post("/api/v1/costs/estimate", body, format="json")
    assert response.status_code == 200, response.json()
    return response.json()


@pytest.fixture
def reader(alice):
    return key_holder(alice.tenant, Scope.COSTS_READ, name="finance").client()


def test_explicit_4k_and_auto_side_by_side_priced_from_the_planners_tokens(reader, alice):
    placement_create(tenant=alice.tenant, slug="hero", width=1920, height=1080)
    result = estimate(
        reader,
        images_per_month=10_000,
        placements=["hero"],
        quality="high",
        locales=["en", "ja", "de"],
        prompt_tokens=200,
        routing=["3840x2160", "auto"],
        calibrate=False,
    )
    four_k, auto = result["options"]
    assert four_k["routing"] == "explicit:3840x2160" and auto["routing"] == "auto"
    assert result["cheapest"] == "auto" and not result["calibrated"]
    for option in (four_k, auto):
        (size_text,) = option["sizes"]
        width, height = parse_size(size_text.split()[0])
        images = 10_000 * 3
        assert option["tokens"]["image_output"] == images * output_tokens(width, height, "high")
        assert option["tokens"]["text_input"] == images * 200
        expected = (option["tokens"]["image_output"] * 30 + images * 200 * 5) / Decimal(1_000_000)
        assert Decimal(option["total_usd_exact"]) == expected
    auto_width, auto_height = parse_size(auto["sizes"][0].split()[0])
    assert auto_width >= 1920 and auto_height >= 1080 and auto_width * auto_height < 3840 * 2160
    assert Decimal(auto["total_usd"]) < Decimal(four_k["total_usd"])


def test_edits_and_cached_input_are_priced_by_kind():
    planned = [PlannedImage(size="1024x1024", quality="medium", output_tokens=1756, edit_input_tokens=765)]
    workload = Workload(
        images_per_month=1000,
        locales=2,
        edit_share=Decimal("0.25"),
        cached_input_share=Decimal("0.5"),
        prompt_tokens=100,
    )
    prices = price_sheet_at(timezone.now())
    result = estimate_routing(routing="explicit:1024x1024", planned=planned, workload=workload, prices=prices)
    calls, edits = 2000, 500
    assert result.tokens == {
        "text_input": calls * 100 // 2,
        "cached_text_input": calls * 100 // 2,
        "image_input": edits * 765 // 2 + (edits * 765) % 2,
        "cached_image_input": edits * 765 // 2,
        "image_output": calls * 1756,
    }
    expected = sum(Decimal(result.tokens[kind]) * Decimal(PRICE[kind]) for kind in PRICE) / 1_000_000
    assert result.total_usd == expected


def test_once_usage_is_observed_the_estimate_is_calibrated_and_says_so(reader, alice):
    observed_output = 9000  # more than the formula's 7024: what this tenant's 1024x1024 high images really cost
    for index in range(MIN_OBSERVED_CALLS):
        ledger_charge_response(
            tenant=alice.tenant,
            job_id=index,
            provider_request_id=f"obs-{index}",
            usage={"text_input_tokens": 300, "output_tokens": observed_output},
            occurred_at=timezone.now(),
            size="1024x1024",
            quality="high",
            operation="generate",
        )
    body = {"images_per_month": 100, "placements": ["1024x1024"], "quality": "high", "routing": "1024x1024"}
    calibrated = estimate(reader, **body)
    option = calibrated["options"][0]
    assert calibrated["calibrated"] and option["calibrated"]
    assert "observed over 20 charged responses" in option["calibration"][0]
    assert option["tokens"]["image_output"] == 100 * observed_output
    assert option["tokens"]["text_input"] == 100 * 300
    uncalibrated = estimate(reader, **body, calibrate=False)["options"][0]
    assert uncalibrated["tokens"]["image_output"] == 100 * output_tokens(1024, 1024, "high")
    # Other tenants' usage never calibrates this one.
    assert not estimate(reader, **{**body, "quality": "medium"})["calibrated"]


def test_bad_workloads_are_400_naming_the_field(reader):
    cases = {
        "routing": {"routing": ["1000x1000"]},
        "placements": {"placements": ["no-such-slot"]},
        "edit_share": {"edit_share": 1.5},
        "quality": {"quality": "ultra"},
        "images_per_month": {"images_per_month": -1},
    }
    for field, body in cases.items():
        response = reader.post("/api/v1/costs/estimate", {"images_per_month": 10, **body}, format="json")
        assert response.status_code == 400 and names_field(response, field), (field, response.json())


def test_estimates_need_costs_read(alice):
    shop = key_holder(alice.tenant, Scope.ASSETS_READ, name="web-shop")
    assert shop.client().post("/api/v1/costs/estimate", {"images_per_month": 1}, format="json").status_code == 403


def test_the_command_prints_the_same_estimate(alice, reader):
    out = io.StringIO()
    args = ["--images", "500", "--placement", "1536x1024", "--routing", "xlimage", "--routing", "auto", "--json"]
    call_command("estimate_costs", *args, "--no-calibration", stdout=out)
    printed = json.loads(out.getvalue())
    api = estimate(reader, images_per_month=500, placements=["1536x1024"], routing=["xlimage", "auto"], calibrate=False)
    assert [o["total_usd_exact"] for o in printed["options"]] == [o["total_usd_exact"] for o in api["options"]]
    table = io.StringIO()
    call_command("estimate_costs", "--images", "500", "--placement", "1536x1024", stdout=table)
    assert "routing auto" in table.getvalue() and "image_output" in table.getvalue()
    assert image_input_tokens(1024, 1024) == 765  # the vision accounting edits are estimated with
