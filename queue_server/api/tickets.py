"""Taking a number, cancelling it, re-queuing a missed one (kiosks and staff)."""

from __future__ import annotations

from queue_server.api import BadRequest, api, operation
from queue_server.api import schemas as S
from queue_server.api.hall import state


@api.post("/tickets")
@operation("issue_ticket", "Take a number (取号)", tag="tickets", auth="kiosk", body=S.ISSUE_TICKET,
           response=S.TICKET, errors=(400, 401, 403, 404, 409, 422), idempotent=True, status=201,
           description="Send an Idempotency-Key header: a retry with the same key returns the same ticket.")
def issue_ticket(actor, body, request_key):
    return state().service.issue_ticket(
        actor, body["business"], item=body.get("item"), id_number=body.get("id_number"), phone=body.get("phone"),
        green_reason=body.get("green_reason"), request=request_key)


@api.post("/tickets/<public_id>/cancel")
@operation("cancel_ticket", "Give up a waiting ticket (弃号)", tag="tickets", response=S.TICKET,
           errors=(404, 409),
           description="Open to the holder of the ticket's public id (the resident's phone page, from the slip's QR), "
                       "as a kiosk and a clerk: a resident who leaves frees the place, and the clerk need not call "
                       "them twice and mark them missed.")
def cancel_ticket(public_id, actor):
    return state().service.cancel_ticket(actor, public_id)


@api.post("/tickets/cancel")
@operation("cancel_ticket_by_label", "A clerk cancels today's waiting number for a resident (代为弃号)",
           tag="tickets", auth="staff", body=S.CANCEL_BY_LABEL, response=S.TICKET, errors=(400, 401, 403, 404, 409),
           idempotent=True,
           description="By the number printed on the slip (A012), for a resident who asks at the counter or the front "
                       "desk: a second number taken by mistake, the wrong business, leaving. Journaled as cancel with "
                       "the clerk and the reason. The answer carries no public id. 409 not_waiting once it was called.")
def cancel_ticket_by_label(actor, body, request_key):
    return state().service.cancel_by_label(actor, body["ticket"], body["reason"], request=request_key)


@api.post("/tickets/requeue")
@operation("requeue", "Put a missed number back in the queue within the grace period (过号重排)", tag="tickets",
           auth="kiosk", body=S.REQUEUE, response=S.TICKET, errors=(400, 401, 403, 404, 409), idempotent=True)
def requeue(actor, body, request_key):
    if ("id" in body) == ("ticket" in body):
        err = BadRequest("error.tickets.id_or_ticket", code="invalid_fields")
        err.fields = [{"field": "id", "problem": "give exactly one of id or ticket"}]
        raise err
    return state().service.requeue_ticket(actor, public_id=body.get("id"), label=body.get("ticket"),
                                          request=request_key)
