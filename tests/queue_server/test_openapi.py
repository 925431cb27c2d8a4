"""The OpenAPI document is generated from the routes: it must match them exactly and be valid."""

import re

from openapi_spec_validator import validate

DOMAIN_ACTIONS = {"issue_ticket", "call_next", "recall", "start_service", "complete", "no_show", "transfer", "hold",
                  "call_back", "pause_window", "resume_window", "open_window", "close_window", "sign_in", "sign_out",
                  "requeue", "cancel_ticket", "close_day", "set_allocation"}


def test_document_is_valid_openapi(api):
    spec = api.ok("get", "/openapi.json")
    validate(spec)
    assert spec["openapi"].startswith("3.1")


def test_every_route_is_documented_and_every_documented_path_exists(app, api):
    spec = api.ok("get", "/openapi.json")
    documented = {(path, method.upper()) for path, ops in spec["paths"].items() for method in ops}
    routed = set()
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/v1") or rule.rule.endswith("/openapi.json"):
            continue
        path = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule)
        routed |= {(path, m) for m in rule.methods - {"HEAD", "OPTIONS"}}
    assert documented == routed


def test_operation_ids_are_unique_and_named_for_the_domain(api):
    spec = api.ok("get", "/openapi.json")
    ids = [op["operationId"] for ops in spec["paths"].values() for op in ops.values()]
    assert len(ids) == len(set(ids))
    assert DOMAIN_ACTIONS <= set(ids)


def test_documented_security_matches_behaviour(api):
    """Every operation the document marks open answers without a token; every other refuses."""
    spec = api.ok("get", "/openapi.json")
    for path, ops in spec["paths"].items():
        concrete = path.replace("{number}", "1").replace("{code}", "alpha").replace("{public_id}", "x") \
                       .replace("{notice_id}", "1").replace("{request_id}", "1")
        for method, op in ops.items():
            r = api.client.open(concrete, method=method.upper(), json={})
            if "security" in op:
                assert r.status_code == 401, (method, path, r.status_code)
            else:
                assert r.status_code != 401, (method, path)


def test_error_responses_use_the_one_shape(api):
    spec = api.ok("get", "/openapi.json")
    op = spec["paths"]["/api/v1/tickets"]["post"]
    assert {"400", "401", "404", "409", "422"} <= set(op["responses"])
    assert op["responses"]["409"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Error"}
    assert any(p["name"] == "Idempotency-Key" for p in op["parameters"])
