"""Retention: personal data is erased when no rule needs it any more; the audit journal is kept.

个人信息保护法 §19 and §47: personal information is kept no longer than its purpose needs, then
deleted. What a ticket and an appointment hold of a person serves the day they are for (one open
number per person and business, checking in, the back office), so ``[privacy]
personal_data_days`` after that day the housekeeping (``queue_server.watch``) erases:

* from tickets: the ID number's keyed hash and mask, the phone's keyed hash and mask (NULL);
* from appointments: the same (emptied, the columns being NOT NULL), and the name is reduced to
  its mask (张*三). A missed appointment (爽约) keeps its ID hash as long as
  ``[appointments] no_show_window_days`` counts it towards a suspension (only when
  ``no_show_limit`` is set), and a suspension keeps the hash and mask until it has ended and no
  longer marks which misses were counted; then both go too.

The API's records of requests made with an Idempotency-Key (``requests``, each with the answer a retry gets
again, a ticket's masked ID number among it) go after two days, sooner if ``personal_data_days`` is shorter
(:func:`forget_requests`).

A bad review's call-back phone (``followup_contacts``, encrypted, :mod:`queue_server.domain.contacts`) goes
when its follow-up closes, and at the latest ``[privacy] followup_contact_days`` after it was left
(journaled as ``followup_contacts_erased``).

Applications (办件) and ratings are left alone: an application is a case file that its
department must be able to produce for years (its own rules, not this hall's), and ratings hold
no ID number or phone (comments are scrubbed before they are stored, ``hallq.privacy.scrub_text``).

The audit journal (网络安全法 §21: logs kept at least six months) is never touched here: it is
append-only (triggers refuse UPDATE and DELETE, ``001_core.sql``), kept for good, and no key
shortens that; :data:`JOURNAL_MIN_DAYS` is the floor any archiving job added later must keep.
Entries never hold an ID number or phone, only masks where a step needs one.

Each pass is journaled (``personal_data_erased``) with what it erased and up to which day.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

from queue_server.domain import contacts as followup_contacts
from queue_server.domain.context import SYSTEM, Tx

if TYPE_CHECKING:
    from queue_server.domain.service import QueueService

REQUEST_DAYS = 2  # an Idempotency-Key's record: a retry comes within minutes, a device's queued action within hours
JOURNAL_MIN_DAYS = 180  # 网络安全法 §21: at least six months; nothing deletes journal rows at all
BATCH = 2000  # rows per transaction: a year of tickets on the first run must not hold the write lock long


def erase_personal_data(service: QueueService, today: date) -> dict[str, Any]:
    """Erase what is due on ``today`` in transactions of at most ``BATCH`` rows each; return the counts."""
    total = {"tickets": 0, "appointments": 0, "suspensions": 0}
    while True:
        with service.transaction(SYSTEM) as tx:
            done = erase_batch(tx, today)
        for k in total:
            total[k] += done[k]
        if max(done[k] for k in total) < BATCH:
            break
    contacts = 0
    while True:  # bad reviews' call-back phones (journaled as followup_contacts_erased)
        with service.transaction(SYSTEM) as tx:
            n = followup_contacts.erase_due(tx, today, BATCH)
        contacts += n
        if n < BATCH:
            break
    total = {**total, "followup_contacts": contacts} if contacts else total
    forgotten = forget_requests(service, today)
    return {**total, "requests": forgotten} if forgotten else total


def forget_requests(service: QueueService, today: date) -> int:
    """Forget the records of requests made with an Idempotency-Key (``requests``: the answer a retry gets again)
    older than :data:`REQUEST_DAYS`, or than ``[privacy] personal_data_days`` if that is shorter: an answer
    holds what the request showed (a ticket's masked ID number), which must not outlive the ticket's own.
    Not journaled: they are the API's memory of its answers, not the hall's state."""
    keep = min(REQUEST_DAYS, service.hall.config.privacy.personal_data_days)
    before = (today - timedelta(days=keep)).isoformat()  # created_at is an ISO time of the hall's clock
    forgotten = 0
    while True:
        with service.db.write() as conn:
            # the table is in the order the records were made: the due ones are its first rows
            n = conn.execute("DELETE FROM requests WHERE rowid IN (SELECT rowid FROM requests WHERE created_at < ? "
                             "LIMIT ?)", (before, BATCH)).rowcount
        forgotten += n
        if n < BATCH:
            return forgotten


def erase_batch(tx: Tx, today: date) -> dict[str, Any]:
    """One transaction's worth of erasing (journaled when it erased anything)."""
    keep = tx.hall.config.privacy.personal_data_days
    rules = tx.hall.config.appointments
    before = (today - timedelta(days=keep)).isoformat()  # business days strictly before this are due
    counting = rules.no_show_window_days if rules.no_show_limit > 0 else 0
    misses_before = (today - timedelta(days=max(keep, counting))).isoformat()

    tickets = tx.conn.execute(
        "UPDATE tickets SET id_hash = NULL, id_masked = NULL, phone_hash = NULL, phone_masked = NULL "
        "WHERE id IN (SELECT id FROM tickets WHERE (id_masked IS NOT NULL OR phone_masked IS NOT NULL) "
        "AND business_day < ? LIMIT ?)", (before, BATCH)).rowcount
    appointments = tx.conn.execute(
        "UPDATE appointments SET name = name_masked, id_masked = '', phone_hash = '', phone_masked = '', "
        "id_hash = CASE WHEN status = 'no_show' AND date >= ? THEN id_hash ELSE '' END "
        "WHERE id IN (SELECT id FROM appointments WHERE date < ? AND (id_masked != '' OR phone_hash != '') "
        "LIMIT ?)", (misses_before, before, BATCH)).rowcount
    appointments += tx.conn.execute(
        "UPDATE appointments SET id_hash = '' WHERE id IN (SELECT id FROM appointments WHERE status = 'no_show' "
        "AND date < ? AND id_hash != '' AND id_masked = '' LIMIT ?)", (misses_before, BATCH)).rowcount
    suspensions = tx.conn.execute(
        "UPDATE appointment_suspensions SET id_hash = '', id_masked = '' WHERE id IN (SELECT id FROM "
        "appointment_suspensions WHERE until_date < ? AND trigger_date < ? AND id_hash != '' LIMIT ?)",
        (before, misses_before, BATCH)).rowcount
    done = {"tickets": tickets, "appointments": appointments, "suspensions": suspensions}
    if any(done.values()):
        tx.journal("personal_data_erased", data={**done, "before": before, "personal_data_days": keep})
    return done
