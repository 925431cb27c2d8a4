"""What a request may carry (queue_server/api/inputs.py, parse_body and the header and query checks).

Each check first on its own, then through the API with the Flask test
client: the answer is a 4xx in the one error shape, naming the field.
"""

from __future__ import annotations

import csv
import io
import json
import logging

import pytest

from hallq.i18n import LANGS
from queue_server.api import inputs
from queue_server.api.inputs import MAX_DEPTH, Malformed, load_json, parse_int, value_problems

KIOSK = {"Authorization": "Bearer demo-kiosk-1"}
JSON = {**KIOSK, "Content-Type": "application/json"}


# -- the checks on their own --------------------------------------------------------------

@pytest.mark.parametrize("raw, why", [
    (b'{"a": "\xff"}', "not UTF-8"),
    (b'{"a": "\xed\xa0\x80"}', "not UTF-8"),  # a surrogate encoded in UTF-8 is no UTF-8
    ("{}".encode("utf-16"), "not UTF-8"),
    (b"{", "not valid JSON"),
    (b"{}x", "not valid JSON"),
    (b'{"a": NaN}', "NaN is not a JSON number"),
    (b"[Infinity]", "Infinity is not a JSON number"),
    (b"-Infinity", "-Infinity is not a JSON number"),
    (b"[" * 1000 + b"]" * 1000, "nested too deeply"),  # a RecursionError inside json, caught
    (b"[" * (MAX_DEPTH + 1) + b"]" * (MAX_DEPTH + 1), "nested too deeply"),
    (b'{"a":' * 40 + b"1" + b"}" * 40, "nested too deeply"),
])
def test_load_json_refuses_what_is_not_json_we_take(raw, why):
    with pytest.raises(Malformed) as e:
        load_json(raw)
    assert why in e.value.messages["en"] and set(e.value.messages) == set(LANGS)


def test_load_json_takes_json_as_deep_as_the_limit_and_a_byte_order_mark():
    assert load_json(b"[" * MAX_DEPTH + b"]" * MAX_DEPTH) is not None
    assert load_json("\ufeff{\"a\": 1}".encode()) == {"a": 1}


@pytest.mark.parametrize("raw, problem", [
    (b'{"a": "\\ud800"}', ("a", "is not valid Unicode text (a lone surrogate)")),
    (b'{"a": "x\\udfffy"}', ("a", "is not valid Unicode text (a lone surrogate)")),
    (b'{"\\ud800": 1}', ("\\ud800", "is not valid Unicode text (a lone surrogate)")),
    (b'{"a": {"b\\udc00": 1}}', ("a.b\\udc00", "is not valid Unicode text (a lone surrogate)")),
    (b'{"a": [1, "\\u0000"]}', ("a[1]", "must not contain NUL characters")),
    (b'{"a": 9223372036854775808}', ("a", "must be an integer from -9223372036854775808 to 9223372036854775807")),
    (b'{"a": -9223372036854775809}', ("a", "must be an integer from -9223372036854775808 to 9223372036854775807")),
    (b'{"a": 1' + b"0" * 5000 + b"}", ("a", "must be an integer from -9223372036854775808 to 9223372036854775807")),
    (b'{"a": 1e999}', ("a", "must be a finite number")),
    (b'{"a": 1, "a": 2}', ("a", "appears more than once")),
    (b'{"a": {"b": 1, "b": 1}}', ("a.b", "appears more than once")),
    (b'"\\ud800"', ("(body)", "is not valid Unicode text (a lone surrogate)")),
])
def test_value_problems_name_the_field(raw, problem):
    assert value_problems(load_json(raw)) == [problem]


def test_value_problems_accept_ordinary_values_and_both_ends_of_64_bits():
    body = {"a": [2**63 - 1, -2**63, 1.5, True, None, "中文 😀"], "b": {"c": ""}}
    assert value_problems(load_json(json.dumps(body, ensure_ascii=True).encode())) == []


def test_value_problems_are_listed_in_the_order_of_the_body_and_bounded():
    assert [p for p, _ in value_problems(load_json(b'{"z": "\\ud800", "a": [1e999], "m": "\\u0000"}'))] == \
        ["z", "a[0]", "m"]
    many = load_json(json.dumps({f"k{i}": "\x00" for i in range(500)}).encode())
    assert len(value_problems(many)) == inputs.MAX_PROBLEMS


def test_parse_int_takes_ascii_decimal_integers_only():
    assert [parse_int(s) for s in ("0", "-5", "9223372036854775807")] == [0, -5, 2**63 - 1]
    assert [parse_int(s) for s in (" 1", "1_0", "١٢", "１", "0x1", "1.0", "9" * 20, "9" * 5000, "")] == [None] * 9


def test_printable_shows_what_cannot_be_sent_back():
    assert inputs.printable("a\ud800b\x00") == "a\\ud800b\\x00"
    assert inputs.printable("中文") == "中文"


# -- through the API ----------------------------------------------------------------------

def error_of(r, status: int) -> dict:
    assert r.status_code == status, r.get_data()[:300]
    assert r.headers["Content-Type"].startswith("application/json")
    error = r.get_json()["error"]
    assert error["status"] == status and set(error["messages"]) == set(LANGS) and all(error["messages"].values())
    assert isinstance(error["fields"], list) and isinstance(error["detail"], dict)
    return error


def fields_of(r) -> list[str]:
    error = error_of(r, 400)
    assert error["code"] == "invalid_fields"
    return [f["field"] for f in error["fields"]]


@pytest.mark.parametrize("body, field", [
    (b'{"business": "alpha", "\\ud800": 1}', "\\ud800"),
    (b'{"business": "alpha", "phone": "\\udbff"}', "phone"),
    (b'{"business": "alpha", "id_number": "1\\u0000"}', "id_number"),
    (b'{"business": "alpha", "phone": 18446744073709551616}', "phone"),
    (b'{"business": "alpha", "business": "beta"}', "business"),
])
def test_a_bad_value_anywhere_in_a_body_is_a_400_naming_it(api, state, body, field):
    before = state.db.connection().execute("SELECT COUNT(*) FROM tickets").fetchone()[0]
    assert fields_of(api.client.post("/api/v1/tickets", data=body, headers=JSON)) == [field]
    assert state.db.connection().execute("SELECT COUNT(*) FROM tickets").fetchone()[0] == before


def test_integers_beyond_64_bits_are_refused_where_the_schema_takes_anything(api):
    """An application's form values are free (Map of Any_): the check does not depend on the schema."""
    body = b'{"item": "x", "applicant": {}, "delivery": "onsite", "fields": {"n": [99999999999999999999]}}'
    assert fields_of(api.client.post("/api/v1/applications", data=body, headers=JSON)) == ["fields.n[0]"]


@pytest.mark.parametrize("body", [b"[" * 1000 + b"]" * 1000, b'{"business": NaN}', b'{"a": "\xff"}', b"{"])
def test_what_is_not_json_is_400_malformed_json(api, body):
    assert error_of(api.client.post("/api/v1/tickets", data=body, headers=JSON), 400)["code"] == "malformed_json"


def test_floats_where_integers_are_expected_are_refused(api):
    manager = {"Authorization": f"Bearer {api.login('900')}"}
    assert fields_of(api.client.post("/api/v1/tidal/alerts/seen", json={"alert": 1.0}, headers=manager)) == ["alert"]
    r = api.client.put("/api/v1/clock", json={"now": "2026-11-23T10:00:00+08:00", "rate": 1.5}, headers=manager)
    assert fields_of(r) == ["rate"]


@pytest.mark.parametrize("now", ["2026-13-45T99:99:99+08:00", "0400-11-18T04:39:04Z", "9999-01-01T00:00:00Z"])
def test_the_virtual_clock_moves_only_to_real_times_near_now(api, now):
    r = api.client.put("/api/v1/clock", json={"now": now}, headers={"Authorization": f"Bearer {api.login('900')}"})
    assert fields_of(r) == ["now"]


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded",
                                          "multipart/form-data; boundary=x", "application/xml"])
def test_a_body_declared_as_something_else_is_415(api, content_type):
    r = api.client.post("/api/v1/tickets", data=b'{"business": "alpha"}', headers={**KIOSK, "Content-Type": content_type})
    assert error_of(r, 415)["code"] == "unsupported_media_type"


def test_json_without_a_content_type_and_vendor_json_are_taken(api):
    r = api.client.post("/api/v1/tickets", data=b'{"business": "alpha"}', headers=KIOSK)
    assert r.status_code == 201
    r = api.client.post("/api/v1/tickets", data=b'{"business": "alpha"}',
                        headers={**KIOSK, "Content-Type": "application/vnd.hallq+json"})
    assert r.status_code == 201


def test_a_body_over_the_limit_is_413_before_anything_else(api):
    big = b'{"business": "' + b"a" * 70_000 + b'"}'
    assert error_of(api.client.post("/api/v1/tickets", data=big, headers=JSON), 413)["code"] == "too_large"
    # even without a token: the size is known from Content-Length before the caller is looked at
    r = api.client.post("/api/v1/tickets", data=big, headers={"Content-Type": "application/json"})
    assert error_of(r, 413)["code"] == "too_large"


def test_a_csv_upload_may_be_larger_than_a_json_body(api):
    """Two megabytes for a hall's items sheet; a bad sheet is then refused for what is in it, not its size."""
    manager = {"Authorization": f"Bearer {api.login('900')}", "Content-Type": "text/csv"}
    sheet = b"code,business\n" + b"x,nowhere\n" * 10_000  # 100 KB
    r = api.client.post("/api/v1/settings/items.csv", data=sheet, headers=manager)
    assert error_of(r, 422)["code"] == "invalid_csv"
    r = api.client.post("/api/v1/settings/items.csv", data=b"x" * (3 * 1024 * 1024), headers=manager)
    assert error_of(r, 413)["code"] == "too_large"


def test_a_csv_number_of_5000_digits_is_a_problem_of_its_line(api):
    manager = {"Authorization": f"Bearer {api.login('900')}", "Content-Type": "text/csv"}
    exported = api.client.get("/api/v1/settings/businesses.csv", headers=manager).get_data(as_text=True)
    head, first = list(csv.reader(io.StringIO(exported.lstrip("\ufeff"))))[:2]
    first[head.index("daily_limit")] = "9" * 5000
    sheet = io.StringIO()
    csv.writer(sheet).writerows([head, first])
    r = api.client.post("/api/v1/settings/businesses.csv", data=sheet.getvalue().encode(), headers=manager)
    assert error_of(r, 422)["detail"]["problems"][0]["column"] == "daily_limit"


@pytest.mark.parametrize("key", ["k" * 101, "", "a\tb", "\x7f", "é"])
def test_an_idempotency_key_over_100_characters_or_with_control_characters_is_400(api, key):
    r = api.client.post("/api/v1/tickets", json={"business": "alpha"}, headers={**KIOSK, "Idempotency-Key": key})
    assert fields_of(r) == ["Idempotency-Key"]


def test_an_idempotency_key_of_100_characters_is_kept_whole(api):
    key = "k" * 100
    first = api.client.post("/api/v1/tickets", json={"business": "alpha"}, headers={**KIOSK, "Idempotency-Key": key})
    again = api.client.post("/api/v1/tickets", json={"business": "alpha"}, headers={**KIOSK, "Idempotency-Key": key})
    assert first.status_code == 201 and again.get_json()["ticket"] == first.get_json()["ticket"]
    other = api.client.post("/api/v1/tickets", json={"business": "alpha"},
                            headers={**KIOSK, "Idempotency-Key": "k" * 99 + "j"})
    assert other.get_json()["ticket"] != first.get_json()["ticket"]  # once cut at 100, these were one key


@pytest.mark.parametrize("query, field", [
    ("limit=%00", "limit"), ("x=a%00b", "x"), ("x=%ff", "x"), ("x=%ED%A0%80", "x"), ("x=%C0%AF", "x"),
])
def test_a_query_parameter_that_is_not_text_is_400_naming_it(api, query, field):
    assert fields_of(api.client.get(f"/api/v1/calls?{query}")) == [field]


@pytest.mark.parametrize("value", ["99999999999999999999", "9" * 4000, "1.5", "1_0", "%D9%A1", "%EF%BC%91", " 5"])
def test_a_query_integer_is_ascii_digits_in_range(api, value):
    assert fields_of(api.client.get(f"/api/v1/calls?limit={value}")) == ["limit"]


def test_a_query_string_over_the_limit_is_414(api):
    assert error_of(api.client.get("/api/v1/health?x=" + "a" * 5000), 414)["code"] == "uri_too_long"


def test_a_path_parameter_that_is_not_text_is_400_naming_it(api):
    assert fields_of(api.client.get("/api/v1/items/a%00b")) == ["code"]
    # bytes that are not UTF-8, as a server passes them (PEP 3333: the raw bytes as Latin-1)
    r = api.client.get("/api/v1/items/x", environ_overrides={"PATH_INFO": "/api/v1/items/\xed\xa0\x80"})
    assert fields_of(r) == ["code"]


@pytest.mark.parametrize("number", ["%EF%BC%91", "%D9%A1", "9223372036854775808", "18446744073709551616", "-1"])
def test_a_window_number_is_ascii_digits_within_64_bits_or_no_route(api, number):
    """werkzeug's \\d+ took a full-width １ as window 1; 2**63 made a 405 where a path has two methods."""
    for method, path in (("GET", f"/api/v1/windows/{number}"), ("GET", f"/api/v1/windows/{number}/rating-prompt")):
        assert error_of(api.client.open(path, method=method), 404)["code"] == "no_such_endpoint"


def test_x_id_number_is_at_most_40_printable_ascii_characters(api):
    r = api.client.get("/api/v1/applications", headers={**KIOSK, "X-Id-Number": "1" * 41})
    assert fields_of(r) == ["X-Id-Number"]


@pytest.mark.parametrize("token", ["a" * 600, "a\tb", "a\x01b"])
def test_a_bearer_token_that_cannot_be_ours_is_401_without_a_lookup(api, token):
    assert error_of(api.client.get("/api/v1/health", headers={"Authorization": f"Bearer {token}"}),
                    401)["code"] == "invalid_token"


def test_an_error_that_echoes_input_can_always_be_sent(app, api):
    """A handler that echoes a lone surrogate once made Flask answer 500 "bad_request" in English."""
    from queue_server.api import error_response

    with app.test_request_context("/api/v1/x"):
        r = error_response(404, "unknown_business", {"zh-Hans": "\ud800", "zh-Hant": "x", "en": "y"},
                           fields=[{"field": "\ud800", "problem": "p"}], detail={"\udfff": "\x00"})
        body = json.loads(r.get_data())
    assert body["error"]["messages"]["zh-Hans"] == "\\ud800" and body["error"]["fields"][0]["field"] == "\\ud800"
    assert body["error"]["detail"] == {"\\udfff": "\\x00"}


def test_a_bug_is_500_internal_error_in_three_languages_with_its_traceback_logged(app, api, caplog):
    from queue_server.api import api as blueprint  # noqa: F401 (routes are registered; add one that fails)

    @app.get("/api/v1/_test_bug")
    def _bug():
        raise ZeroDivisionError("the cause")

    with caplog.at_level(logging.ERROR, logger="hallq.api"):
        error = error_of(api.client.get("/api/v1/_test_bug"), 500)
    assert error["code"] == "internal_error"
    assert any(r.exc_info and r.exc_info[0] is ZeroDivisionError for r in caplog.records)


def test_a_failing_error_handler_is_500_internal_error_not_bad_request(app, api, caplog):
    """Flask turns an error inside an error handler into InternalServerError: still internal_error, and
    the log has the exception it wraps."""

    class Echo(Exception):
        pass

    @app.errorhandler(Echo)
    def _echo(e):
        raise UnicodeEncodeError("utf-8", "\ud800", 0, 1, "surrogates not allowed")

    @app.get("/api/v1/_test_echo")
    def _raise():
        raise Echo()

    with caplog.at_level(logging.ERROR, logger="hallq.api"):
        error = error_of(api.client.get("/api/v1/_test_echo"), 500)
    assert error["code"] == "internal_error"
    assert any(r.exc_info and r.exc_info[0] is UnicodeEncodeError for r in caplog.records)


def test_every_error_status_in_the_document_uses_the_error_schema(api):
    spec = api.get("/openapi.json").get_json()
    error = spec["components"]["schemas"]["Error"]["properties"]["error"]
    assert error["properties"]["fields"]["type"] == "array"
    assert error["properties"]["fields"]["items"]["required"] == ["field", "problem"]
    assert set(error["required"]) == {"status", "code", "message", "messages", "fields", "detail"}
    for ops in spec["paths"].values():
        for op in ops.values():
            for status, response in op["responses"].items():
                if int(status) >= 400:
                    assert response["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Error"}
            assert {"400", "401", "503"} <= set(op["responses"])
            if "requestBody" in op:
                assert {"413", "415"} <= set(op["responses"])
