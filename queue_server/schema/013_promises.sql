-- 013: service-level targets per class (docs/dispatch.md). A business promises green-channel and
-- checked-in appointment tickets a call within a target, and an ordinary ticket is overdue after
-- its own (the former age limit, renamed for what it now is).
ALTER TABLE businesses RENAME COLUMN age_limit_minutes TO ordinary_target_minutes;
ALTER TABLE businesses ADD COLUMN green_target_minutes INTEGER NOT NULL DEFAULT 10;
ALTER TABLE businesses ADD COLUMN appointment_target_minutes INTEGER NOT NULL DEFAULT 10;
-- a promise is never looser than the ordinary target (a console-set age limit below 10 minutes);
-- the server then applies hall.toml again at start (hallsync.FORMAT), which sets what the file says
UPDATE businesses SET green_target_minutes = MIN(10, ordinary_target_minutes),
                      appointment_target_minutes = MIN(10, ordinary_target_minutes);

-- where a ticket's promise starts: its arrival, or for a checked-in appointment the later of its
-- slot's start and its check-in (an early check-in is not promised before its slot).
-- Tickets written before this migration start their promise at their arrival.
ALTER TABLE tickets ADD COLUMN promise_from TEXT;
UPDATE tickets SET promise_from = arrived_at;

-- the head of each class of a business's queue, by promise: one indexed LIMIT 1 per class
DROP INDEX tickets_waiting;
CREATE INDEX tickets_waiting ON tickets (business_day, business, class, promise_from, id)
    WHERE state = 'waiting' AND target_window IS NULL;

-- how many promises a window has called in a row while an overdue ordinary ticket waited for it
ALTER TABLE windows ADD COLUMN promise_run INTEGER NOT NULL DEFAULT 0;

-- a writer that does not know promises (a bulk import, an older tool) still queues its tickets right
CREATE TRIGGER tickets_promise_from_default AFTER INSERT ON tickets WHEN NEW.promise_from IS NULL
BEGIN
    UPDATE tickets SET promise_from = NEW.arrived_at WHERE id = NEW.id;
END;
