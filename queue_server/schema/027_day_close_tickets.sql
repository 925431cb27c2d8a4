-- 027: the tickets an end-of-day close (日终) expired, so that undoing a mistaken close gives back exactly
-- those (queue_server/domain/day.py: close_day records them, reopen_day restores them). A ticket expired in
-- the tickets table alone does not say why: a close, a day rolled over, or (in a later rule) anything else;
-- only a close's may come back, and only on the day it was closed.
--
-- One row per ticket the close ended: the state the close took it from (waiting, called or held: a close
-- with a resident being served is refused) and the window that had it. The rows of a day are dropped when
-- the day is reopened, closed again (the new close records its own) or rolled over.
--
-- A database closed today by the release before this one (a close with no rows here) gets the rows its
-- journal proves: a ticket of the closed day (meta closed_day) still expired, whose last journal entry is the
-- close's expire (reason day_closed); the entry before it says whether it was held.

CREATE TABLE day_close_tickets (
    ticket_id INTEGER PRIMARY KEY REFERENCES tickets(id),
    business_day TEXT NOT NULL,         -- the day the close ended (the ticket's own business day)
    state TEXT NOT NULL CHECK (state = 'waiting' OR state = 'called' OR state = 'held'),
    window INTEGER,                     -- the window that had it (called or held), NULL while waiting
    closed_at TEXT NOT NULL
);

INSERT INTO day_close_tickets (ticket_id, business_day, state, window, closed_at)
SELECT t.id, t.business_day,
       CASE WHEN j.window IS NULL THEN 'waiting'
            WHEN (SELECT p.action FROM journal p WHERE p.ticket_id = t.id AND p.seq < j.seq
                  ORDER BY p.seq DESC LIMIT 1) = 'hold' THEN 'held'
            ELSE 'called' END,
       j.window, j.at
FROM tickets t
JOIN journal j ON j.seq = (SELECT max(seq) FROM journal WHERE ticket_id = t.id)
WHERE t.state = 'expired'
  AND t.business_day = (SELECT value FROM meta WHERE key = 'closed_day')
  AND j.action = 'expire' AND json_valid(j.data) AND json_extract(j.data, '$.reason') = 'day_closed';
