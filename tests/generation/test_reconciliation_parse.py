"""Reading a provider usage export: JSON or CSV, errors that name the row and the column, the token split."""

from __future__ import annotations

import datetime as dt

import pytest

from generation.services.reconciliation import usage_rows_parse
from tenants.errors import ServiceError

CSV = (
    "time,deployment,operation,request_id,client_request_id,status,input_tokens,output_tokens\n"
    "2026-12-07T06:00:00.000Z,east,ImageGenerations_Create,req-1,job-1-2-aa,200,40,272\n"
    "2026-12-07T06:00:01Z,east,ImageEdits_Create,req-2,job-1-3-bb,200,1000,272\n"
    "2026-12-07T06:00:02Z,east,ImageGenerations_Create,req-3,,200,40,272\n"
)


def test_csv_rows_with_a_client_request_id_are_read_and_priced_by_operation():
    rows = usage_rows_parse(data=CSV, format="csv")
    assert [row.client_request_id for row in rows] == ["job-1-2-aa", "job-1-3-bb"]  # the third is not ours
    generation, edit = rows
    assert generation.time == dt.datetime(2026, 12, 7, 6, 0, tzinfo=dt.UTC)
    assert generation.usage() == {"text_input_tokens": 40, "image_input_tokens": 0, "output_tokens": 272}
    # An edit's input without a split is priced as image input: the dearer kind, an upper bound.
    assert edit.usage() == {"text_input_tokens": 0, "image_input_tokens": 1000, "output_tokens": 272}


def test_json_rows_may_carry_the_split_and_come_wrapped_in_data():
    data = (
        '{"data": [{"time": "2026-12-07T06:00:00", "client_request_id": "c1", "request_id": "r1", "status": 200, '
        '"operation": "ImageEdits_Create", "input_tokens": 100, "text_input_tokens": 30, "image_input_tokens": 70, '
        '"output_tokens": 5}]}'
    )
    (row,) = usage_rows_parse(data=data, format="json")
    assert row.usage() == {"text_input_tokens": 30, "image_input_tokens": 70, "output_tokens": 5}
    assert row.time.tzinfo is not None  # a naive time is UTC


@pytest.mark.parametrize(
    ("data", "fmt", "message"),
    [
        ("{not json", "json", "not JSON"),
        ('{"rows": []}', "json", "a list of rows"),
        ("[1]", "json", "row 1: must be an object"),
        ('[{"client_request_id": "c", "status": "ok", "time": "2026-12-07T06:00:00Z"}]', "json", "row 1: status"),
        ('[{"client_request_id": "c", "status": 200, "time": "yesterday"}]', "json", "row 1: time"),
        ("client_request_id,status,time,input_tokens\nc,200,2026-12-07T06:00:00Z,-5\n", "csv", "must not be negative"),
        ("[]", "xml", "must be json or csv"),
    ],
)
def test_a_bad_export_is_refused_naming_the_row_and_the_column(data, fmt, message):
    with pytest.raises(ServiceError) as caught:
        usage_rows_parse(data=data, format=fmt)
    assert message in str(caught.value)
