"""Ratings (好差评): from the resident's own device, never a staff account."""

from __future__ import annotations

from hallq.schema import Arr, Bool, Int, Obj, Str
from queue_server.api import api, operation
from queue_server.api.hall import state
from queue_server.domain import rating_prompts, ratings


_LEVEL = Int(min=1, max=5, description="5 非常满意, 4 满意, 3 基本满意, 2 不满意, 1 非常不满意")
_REASONS = Arr(Str(max_len=40), max_items=ratings.MAX_REASONS,
               description=f"the official 差评 reason codes: {', '.join(ratings.REASONS)} (and the kiosk's "
                           f"{', '.join(ratings.REASON_ALIASES)}, stored as "
                           f"{', '.join(ratings.REASON_ALIASES.values())}); any other text: 422 invalid_fields, "
                           "naming it in fields")
_COMMENT = Str(max_len=500, description="the resident's own words (e.g. with the reason other), up to 500 "
                                        "characters; an ID or phone number in it is stored masked")
_CONTACT = {"contact": Str(max_len=20, description="bad reviews only: a phone for the call-back (回访), optional; "
                       "kept encrypted, shown to managers only, deleted when the follow-up closes"),
            "contact_consent": Bool(description="must be true with a contact: the resident agreed to the wording "
                                                "shown beside the field (web.rate.contact_consent)")}

RATE_TICKET = Obj({"ticket": Str(min_len=1, max_len=40, description="the ticket's public id (its QR code)"),
                   "level": _LEVEL, "reasons": _REASONS, "comment": _COMMENT, **_CONTACT},
                  required=["ticket", "level"])
RATE_WINDOW = Obj({"level": _LEVEL, "reasons": _REASONS, "comment": _COMMENT, **_CONTACT}, required=["level"])
RATING = Obj({"id": Int(), "level": Int(), "bad": Bool(), "ticket": Str()}, extra=True)


@api.post("/ratings")
@operation("rate_ticket", "Rate a finished service by its ticket (phone page, kiosk, tablet)", tag="ratings",
           body=RATE_TICKET, response=RATING, errors=(400, 403, 404, 409, 422), idempotent=True, status=201,
           description="Open to the holder of the ticket's public id; refused for staff accounts.")
def rate_ticket(actor, body, request_key):
    return state().service.rate_ticket(actor, body["ticket"], body["level"], body.get("reasons"),
                                       body.get("comment", ""), request=request_key, contact=body.get("contact"),
                                       contact_consent=body.get("contact_consent", False))


@api.post("/windows/<int:number>/rating")
@operation("rate_at_window", "A window's rating pad or tablet rates the service just finished there",
           tag="ratings", auth="device", body=RATE_WINDOW, response=RATING, errors=(400, 401, 403, 404, 409, 422),
           idempotent=True, status=201)
def rate_at_window(number, actor, body, request_key):
    return state().service.rate_at_window(actor, number, body["level"], body.get("reasons"),
                                          body.get("comment", ""), request=request_key, contact=body.get("contact"),
                                          contact_consent=body.get("contact_consent", False))


@api.post("/windows/<int:number>/rating-decline")
@operation("decline_rating", "The resident declines to rate the service the window's tablet offers (不评价)",
           tag="ratings", auth="device", body=Obj({}), response=Obj({"window": Int(), "ticket": Str(),
                                                                        "declined_at": Str()}),
           errors=(401, 403, 404), idempotent=True, status=201,
           description="The tablet offers that service no more; the resident may still rate it from the ticket's "
                       "phone page within the rating period.")
def decline_rating(number, actor, body, request_key):
    return rating_prompts.decline_at_window(state().service, actor, number, request=request_key)
