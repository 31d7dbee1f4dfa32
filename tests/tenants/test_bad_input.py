"""Text and numbers no column can hold are a 400 naming the field, at the root (issue #15).

NUL (PostgreSQL refuses it in text), unpaired surrogates (UTF-8 cannot encode them), JSON
nested 1,000 levels deep and numbers JSON allows but no field holds reached queries,
moderation or Python's recursion limit and answered 500. Each case here goes through a real
endpoint and asserts nothing was stored.
"""

from __future__ import annotations

import json

import pytest
from django.test import Client

from dam.models import Collection
from generation.models import Job
from tenants.models import Placement
from tests.support.errors import error_codes, error_fields

pytestmark = pytest.mark.django_db


def post_json(actor, url: str, raw: str):
    return actor.client().generic("POST", url, raw.encode("utf-8", "surrogatepass"), content_type="application/json")


@pytest.mark.parametrize(
    ("raw", "field", "code"),
    [
        ('{"slug": "summer", "name": "Sum\\u0000mer"}', "name", "null_character"),
        ('{"slug": "summer", "name": "Sum\\ud800mer"}', "name", "unpaired_surrogate"),
        ('{"slug": "summer", "name": "ok", "x\\u0000": 1}', "x\\u0000", "null_character"),
    ],
)
def test_nul_and_unpaired_surrogates_in_a_json_body_are_400_naming_the_field(alice, raw, field, code):
    response = post_json(alice, "/api/v1/collections", raw)
    assert response.status_code == 400, response.content
    assert error_fields(response) == {field} and code in error_codes(response)
    assert not Collection.objects.for_tenant(alice.tenant).exists()


def test_nested_fields_are_named_by_dotted_path_and_every_one_is_listed(alice):
    raw = '{"prompt": "a cabin", "tags": ["ok", "bad\\u0000"], "locales": {"fr": {"headline": "\\udfff"}}}'
    response = post_json(alice, "/api/v1/jobs", raw)
    assert response.status_code == 400, response.content
    assert error_fields(response) == {"tags.1", "locales.fr.headline"}
    assert not Job.objects.for_tenant(alice.tenant).exists()


def test_an_unpaired_surrogate_in_a_prompt_is_refused_before_moderation_is_called(alice, monkeypatch):
    def must_not_run(*args, **kwargs):
        raise AssertionError("moderation was called")

    monkeypatch.setattr("generation.services.submission.moderate_prompt", must_not_run)
    response = post_json(alice, "/api/v1/jobs", '{"prompt": "a lakeside cabin \\ud83d at dawn", "quality": "low"}')
    assert response.status_code == 400 and error_fields(response) == {"prompt"}
    assert not Job.objects.for_tenant(alice.tenant).exists()


def test_a_nul_in_a_multipart_field_is_400_naming_it(alice):
    response = alice.client().post(
        "/api/v1/jobs", {"request": json.dumps({"prompt": "a cabin\x00", "quality": "low"})}, format="multipart"
    )
    assert response.status_code == 400 and error_fields(response) == {"request.prompt"}
    form = alice.client().post("/api/v1/placements", {"slug": "pdp\x00", "width": "300", "height": "300"})
    assert form.status_code == 400 and error_fields(form) == {"slug"}
    assert not Placement.objects.for_tenant(alice.tenant).exists()


@pytest.mark.parametrize(
    ("url", "field"),
    [
        ("/api/v1/assets?q=red%00shoe", "q"),
        ("/api/v1/assets?collection=%00", "collection"),
        ("/api/v1/collections/sum%00mer", "path"),
        ("/api/v1/placements/%00", "path"),
    ],
)
def test_a_nul_in_a_query_parameter_or_a_path_segment_is_400_naming_it(alice, url, field):
    response = alice.client().get(url)
    assert response.status_code == 400, response.content
    assert error_fields(response) == {field} and "null_character" in error_codes(response)


def test_json_nested_1000_levels_deep_is_a_400_not_a_recursion_error(alice):
    for raw in ("[" * 1000 + "]" * 1000, '{"slug": ' + "[" * 100 + "]" * 100 + "}"):
        response = post_json(alice, "/api/v1/placements", raw)
        assert response.status_code == 400, response.content
        assert "too_deep" in error_codes(response)
    assert not Placement.objects.for_tenant(alice.tenant).exists()


def test_numbers_json_allows_but_no_field_holds_are_400_naming_the_field(alice):
    for raw, field in [
        ('{"slug": "pdp", "width": 1e999, "height": 300}', "width"),
        ('{"slug": "pdp", "width": NaN, "height": 300}', "non_field_errors"),
        ('{"slug": "pdp", "width": 300, "height": -Infinity}', "non_field_errors"),
    ]:
        response = post_json(alice, "/api/v1/placements", raw)
        assert response.status_code == 400 and field in error_fields(response), (raw, response.content)
    assert not Placement.objects.for_tenant(alice.tenant).exists()


def test_the_staff_web_ui_refuses_a_nul_in_a_query_or_a_form_with_400(alice):
    client = Client()
    client.force_login(alice.user)
    assert client.get("/admin/dam/asset/?q=red%00").status_code == 400
    assert client.get("/admin/dam/asset/").status_code == 200
    response = client.post("/admin/dam/collection/add/", {"slug": "x\x00", "name": "X"})
    assert response.status_code == 400 and response["Content-Type"].startswith("text/plain")
    assert not Collection.objects.for_tenant(alice.tenant).exists()
