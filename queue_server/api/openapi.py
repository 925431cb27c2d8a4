"""The OpenAPI 3.1 document, generated from the routes and their :func:`operation` declarations."""

from __future__ import annotations

import re
from typing import Any

from flask import Flask, jsonify

from hallq import __version__
from hallq.schema import Int, Obj, Str
from queue_server.api import OPERATIONS, api

ERROR = Obj({
    "error": Obj({
        "status": Int(), "code": Str(description="machine-readable, e.g. daily_limit_reached"),
        "message": Str(description="in the request's Accept-Language (default Simplified Chinese)"),
        "messages": Obj({}, extra=True, description="the same message in zh-Hans, zh-Hant and en"),
        "fields": Obj({}, extra=True, description="[{field, problem}] for 400 invalid_fields"),
        "detail": Obj({}, extra=True),
    }, required=["status", "code", "message", "messages"]),
}, required=["error"])

STATUS_TEXT = {200: "OK", 201: "Created", 400: "Malformed body or parameters (fields listed)",
               401: "Not signed in, or the token is invalid", 403: "Not allowed for this caller",
               404: "Unknown business, item, window or ticket", 409: "Not possible in the hall's current state",
               422: "Well-formed but invalid (e.g. an ID number's check digit)", 503: "Busy; retry"}

AUTH_TEXT = {
    "open": "Open: no personal data.",
    "kiosk": "A kiosk's device key or a signed-in staff member.",
    "staff": "A signed-in staff member.",
    "window": "The staff member signed in at the window, a manager, or a device (call keypad) bound to it.",
    "device": "A device bound to the window (its rating tablet, the gateway of its rating pad); never a staff "
              "account.",
    "manager": "A manager or administrator.",
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
                   "schema": {"type": "integer"} if f"<int:{arg}>" in rule.rule else {"type": "string", "maxLength": 64}}
                  for arg in rule.arguments]
        params += [{"name": k, "in": "query", "required": False, "schema": v.json_schema()} for k, v in op.query.items()]
        if op.idempotent:
            params.append({"name": "Idempotency-Key", "in": "header", "required": False,
                           "schema": {"type": "string", "maxLength": 100},
                           "description": "retrying with the same key returns the first response"})
        responses: dict[str, Any] = {str(op.status): {
            "description": STATUS_TEXT.get(op.status, "OK"),
            "content": {"application/json": {"schema": op.response.json_schema() if op.response else {}}}}}
        for code in sorted(set(op.errors) | {503}):
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
