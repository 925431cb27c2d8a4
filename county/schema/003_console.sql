-- The supervision console's state (county/console.py): folded from the events once each, in each hall's journal
-- order, up to its high-water mark, so that the console reads small tables and never scans the events.

-- How far each hall's events are folded into the tables below, and the hall's business day of the last one.
CREATE TABLE console_cursor (
    site text PRIMARY KEY REFERENCES halls (site) ON DELETE CASCADE,
    seq bigint NOT NULL DEFAULT 0,
    day date,
    folded_at timestamptz NOT NULL DEFAULT now()
);

-- Tickets of the hall's recent days: who is waiting and since when (pruned after a week).
CREATE TABLE console_tickets (
    site text NOT NULL,
    day date NOT NULL,
    ticket text NOT NULL,
    business text NOT NULL DEFAULT '',
    item text NOT NULL DEFAULT '',
    issued_at timestamptz NOT NULL,
    called_at timestamptz,
    state text NOT NULL CHECK (state IN ('waiting', 'serving', 'done', 'gone')),
    PRIMARY KEY (site, day, ticket)
);
CREATE INDEX console_tickets_waiting ON console_tickets (site, day, issued_at) WHERE state = 'waiting';

-- Each window's open/closed state.
CREATE TABLE console_windows (
    site text NOT NULL,
    window_no integer NOT NULL,
    open boolean NOT NULL,
    since timestamptz NOT NULL,
    PRIMARY KEY (site, window_no)
);

-- Bad-review follow-ups (差评整改): the n-th followup_opened of a hall is its follow-up number n (the hall's
-- followups table numbers them in order), which followup_closed names.
CREATE TABLE console_followups (
    site text NOT NULL,
    n bigint NOT NULL,
    due date NOT NULL,
    closed boolean NOT NULL DEFAULT false,
    PRIMARY KEY (site, n)
);
CREATE INDEX console_followups_open ON console_followups (site, due) WHERE NOT closed;

-- The daily rollup every report reads: one row per hall, day, business and item. Three years of a county of
-- 163 halls is a few million rows however many tickets: the reports answer from here, not from the events.
CREATE TABLE console_daily (
    site text NOT NULL,
    day date NOT NULL,
    business text NOT NULL DEFAULT '',
    item text NOT NULL DEFAULT '',
    issued integer NOT NULL DEFAULT 0,
    called integer NOT NULL DEFAULT 0,          -- first calls: the waits below
    served integer NOT NULL DEFAULT 0,          -- completed
    no_show integer NOT NULL DEFAULT 0,
    wait_seconds double precision NOT NULL DEFAULT 0,   -- the sum of the waits (issue to first call)
    wait_max double precision NOT NULL DEFAULT 0,
    on_time integer NOT NULL DEFAULT 0,         -- first calls within [console] on_time_minutes
    rated integer NOT NULL DEFAULT 0,
    bad integer NOT NULL DEFAULT 0,             -- 差评: level 1 or 2
    PRIMARY KEY (day, site, business, item)
);
CREATE INDEX console_daily_site ON console_daily (site, day);
