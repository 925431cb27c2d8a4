-- 028: a ticket's first call, kept. A ticket's wait (等候时长, docs/statistics.md) runs from taking the number
-- to the moment the hall first called the resident to a window. ``called_at`` cannot say so: a call-back (回呼)
-- of a held ticket (挂起) overwrites it, so the minutes on hold counted as waiting; a missed number put back in
-- the queue (过号重排), a transfer (转移) and a mistakenly closed day undone clear it. ``called_at`` stays the
-- latest call (a window's current ticket, its held tickets' order, the phone page); ``first_called_at`` is set
-- by the first call (queue_server/domain/windows.py call_next) and never changed again: not by a recall, a
-- call-back, a re-queue, a transfer, a day closed or reopened.
--
-- The tickets kept so far get their first call from the journal (append-only, never pruned): the earliest
-- ``call`` entry of the ticket; a ticket called once has it in ``called_at``; a row with no call in the journal
-- (written around the domain) keeps what ``called_at`` says. The days already rolled up whose waits change are
-- rolled up again by the next report (their stats_days row is dropped, as a late rating does).

ALTER TABLE tickets ADD COLUMN first_called_at TEXT;

UPDATE tickets SET first_called_at = COALESCE(
    (SELECT j.at FROM journal j WHERE j.ticket_id = tickets.id AND j.action = 'call' ORDER BY j.seq LIMIT 1),
    called_at)
WHERE calls > 1 OR (calls > 0 AND called_at IS NULL);

UPDATE tickets SET first_called_at = called_at WHERE first_called_at IS NULL AND called_at IS NOT NULL;

DELETE FROM stats_days WHERE business_day IN (
    SELECT DISTINCT business_day FROM tickets
    WHERE first_called_at IS NOT called_at OR (first_called_at IS NOT NULL AND arrived_at != issued_at));
