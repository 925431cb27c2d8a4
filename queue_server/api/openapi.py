"""The OpenAPI 3.1 document, generated from the routes and their :func:`operation` declarations."""

from __future__ import annotations

import re
from typing import Any

from flask import Flask, jsonify

from hallq import __version__
from hallq.i18n import LANGS
from hallq.schema import Arr, Int, Obj, Str
from queue_server.api import OPERATIONS, api
from queue_server.api.inputs import INT_MAX

ERROR = Obj({
    "error": Obj({
        "status": Int(min=400, max=599), "code": Str(description="machine-readable, e.g. daily_limit_reached"),
        "message": Str(max_len=None, description="in the request's Accept-Language (default Simplified Chinese)"),
        "messages": Obj({lang: Str(max_len=None) for lang in LANGS}, required=list(LANGS),
                        description="the same message in zh-Hans, zh-Hant and en"),
        "fields": Arr(Obj({"field": Str(max_len=None, description="its path, e.g. applicant.name or serves[2]"),
                           "problem": Str(max_len=None)}, required=["field", "problem"]), max_items=None,
                      description="every bad field with its problem (400 invalid_fields); else empty"),
        "detail": Obj({}, extra=True, description="what a program may need, e.g. {\"daily_limit\": 300}"),
    }, required=["status", "code", "message", "messages", "fields", "detail"]),
}, required=["error"])

STATUS_TEXT = {200: "OK", 201: "Created", 304: "Not modified since the ETag sent as If-None-Match",
               400: "Malformed body or parameters (fields listed)",
               401: "Not signed in, or the token is invalid", 403: "Not allowed for this caller",
               404: "Unknown business, item, window or ticket", 409: "Not possible in the hall's current state",
               413: "The body is too large", 414: "The query string is too long", 415: "The body is not JSON",
               422: "Well-formed but invalid (e.g. an ID number's check digit)",
               429: "Too many failed sign-ins from this address; wait", 503: "Busy; retry",
               507: "The server's disk is full; nothing was changed"}
IDEMPOTENCY_KEY_PATTERN = "^[ -~]{1,100}$"  # queue_server.api.inputs.IDEMPOTENCY_KEY

AUTH_TEXT = {
    "open": "Open: no personal data.",
    "kiosk": "A kiosk's device key or a signed-in staff member.",
    "staff": "A signed-in staff member.",
    "window": "The staff member signed in at the window, a manager, or a device (call keypad) bound to it.",
    "device": "A device bound to the window (its rating tablet, the gateway of its rating pad); never a staff "
              "account.",
    "manager": "A manager or administrator.",
    "journal": "A manager or administrator, or the county platform's key (a [[devices]] kind = \"county\"), "
               "which may read the journal and nothing else.",
    "routing": "The county platform's routing key (a [[devices]] kind = \"routing\"), which may file applications "
               "routed from a village station and read their progress, and nothing else.",
}


def build_spec(app: Flask) -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = {}
    for rule in app.url_map.iter_rules():
        if not rule.endpoint.startswith("api."):
            continue
        name = rule.endpoint.split(".", 1)[1]
        op = OPERATIONS.get(name)
        if op is None:
            continue  # the spec route itself
        path = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule)
        params = [{"name": arg, "in": "path", "required": True,
                   "schema": {"type": "integer", "minimum": 0, "maximum": INT_MAX} if f"<int:{arg}>" in rule.rule
                   else {"type": "string", "minLength": 1, "maxLength": 64}}
                  for arg in sorted(rule.arguments)]
        params += [{"name": k, "in": "query", "required": False, "schema": v.json_schema()} for k, v in op.query.items()]
        if op.idempotent:
            params.append({"name": "Idempotency-Key", "in": "header", "required": False,
                           "schema": {"type": "string", "pattern": IDEMPOTENCY_KEY_PATTERN},
                           "description": "retrying with the same key returns the first response"})
        responses: dict[str, Any] = {str(op.status): {
            "description": STATUS_TEXT.get(op.status, "OK"),
            "content": {media: {"schema": (op.response.json_schema() if op.response else {})
                                if media == "application/json" else {"type": "string"}} for media in op.media}}}
        for code in op.statuses(rule.methods - {"HEAD", "OPTIONS"}, bool(rule.arguments)):
            if code < 400:
                responses.setdefault(str(code), {"description": STATUS_TEXT.get(code, "OK")})
                continue
            responses[str(code)] = {"description": STATUS_TEXT.get(code, "Error"),
                                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
        entry: dict[str, Any] = {
            "operationId": op.operation_id, "summary": op.summary, "tags": [op.tag],
            "description": (op.description + "\n\n" if op.description else "") + "Who may call: " + AUTH_TEXT[op.auth],
            "parameters": params, "responses": responses,
        }
        if op.auth != "open":
            entry["security"] = [{"bearer": []}]
        if op.body is not None:
            entry["requestBody"] = {"required": bool(op.body.required),
                                    "content": {"application/json": {"schema": op.body.json_schema()}}}
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            paths.setdefault(path, {})[method.lower()] = entry
    return {
        "openapi": "3.1.0",
        "info": {"title": "hallq queue server", "version": __version__,
                 "description": "Queue management for government service halls. Commands go in over this API; "
                                "state and calls go out over MQTT (see docs/mqtt.md)."},
        "servers": [{"url": "/"}],
        "paths": dict(sorted(paths.items())),
        "components": {
            "schemas": {"Error": ERROR.json_schema()},
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer",
                                           "description": "a staff session token (POST /api/v1/auth/login) or a "
                                                          "device key"}},
        },
    }


@api.get("/openapi.json")
def openapi_json():
    from flask import current_app

    spec = current_app.extensions.get("hallq_openapi")
    if spec is None:
        spec = current_app.extensions["hallq_openapi"] = build_spec(current_app)
    return jsonify(spec)
