-- 011: one plain index for "the tickets at this window" in any states.
-- The partial index of 001 was usable only by queries repeating its exact
-- state list, so asking for ('called', 'serving') scanned the whole table:
-- call next went from 2 ms to 13 ms with 100,000 tickets waiting.
DROP INDEX tickets_at_window;
CREATE INDEX tickets_at_window ON tickets (window, state, business_day);

-- every window's current and held tickets at once (the boards' window list)
CREATE INDEX tickets_active ON tickets (window) WHERE state IN ('called', 'serving', 'held');
