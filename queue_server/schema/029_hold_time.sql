-- 029: a ticket's time on hold (挂起), so that it is not counted as its service time (办理时长,
-- docs/statistics.md). A ticket held while being served kept its ``started_at``; its service (start to
-- completion) ran on through the hold, while the window called and served others, whose service counted too:
-- the hall's, the window's and the clerk's service times were inflated. Now (queue_server/domain/holds.py):
--
-- * ``held_at``: when the ticket's current hold began, set by the hold, cleared by the call-back (回呼);
-- * ``held_seconds``: the seconds of its ended holds, added by each call-back in its own UPDATE;
-- * service time = start (or call) → completion, less ``held_seconds``.
--
-- The tickets kept so far get their holds from the journal (append-only, never pruned: every hold and call-back
-- is an entry, at the very time the ticket's columns were written): a ``hold`` entry and the ticket's next
-- ``call_back`` entry are one hold, counted when it lies inside the ticket's service (at or after its
-- ``started_at``, up to its completion). A hold before ``started_at`` is left out: a ticket held before anyone
-- pressed start, in the release before this one, counted its service from its call-back or from a start pressed
-- after it, so that hold was never in it. A ticket on hold now, inside its service, gets its hold's beginning
-- (its last ``hold`` entry); one held before anyone pressed start is left as it was (its call-back adds nothing:
-- it counts from its call-back, as before). A row with no hold in the journal (written around the domain) keeps 0.
-- The days already rolled up whose service times change are rolled up again by the next report (their
-- stats_days row is dropped, as a late rating does).

ALTER TABLE tickets ADD COLUMN held_seconds INTEGER NOT NULL DEFAULT 0;

ALTER TABLE tickets ADD COLUMN held_at TEXT;

-- every hold in the journal (one pass over it: there is no index on the action alone), with what ended it
CREATE TEMP TABLE holds_029 AS
SELECT h.ticket_id, h.at AS held, e.action AS ended_by, e.at AS ended
FROM journal h
LEFT JOIN journal e ON e.seq = (SELECT min(x.seq) FROM journal x WHERE x.ticket_id = h.ticket_id AND x.seq > h.seq
                                AND (x.action = 'call_back' OR x.action = 'expire'))
WHERE h.action = 'hold' AND h.ticket_id IS NOT NULL;

CREATE INDEX temp.holds_029_ticket ON holds_029 (ticket_id);

UPDATE tickets SET held_seconds = (
    SELECT COALESCE(SUM(max(CAST(round((julianday(h.ended) - julianday(h.held)) * 86400) AS INTEGER), 0)), 0)
    FROM holds_029 h
    WHERE h.ticket_id = tickets.id AND h.ended_by = 'call_back'
      AND julianday(h.held) >= julianday(tickets.started_at)
      AND (tickets.finished_at IS NULL OR julianday(h.ended) <= julianday(tickets.finished_at)))
WHERE started_at IS NOT NULL AND id IN (SELECT ticket_id FROM holds_029);

UPDATE tickets SET held_at = (
    SELECT h.held FROM holds_029 h WHERE h.ticket_id = tickets.id AND h.ended_by IS NULL
      AND julianday(h.held) >= julianday(tickets.started_at) ORDER BY h.held DESC LIMIT 1)
WHERE state = 'held' AND started_at IS NOT NULL;

DROP TABLE holds_029;

DELETE FROM stats_days WHERE business_day IN (
    SELECT DISTINCT business_day FROM tickets WHERE held_seconds > 0 AND state = 'done');
