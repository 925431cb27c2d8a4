-- 003: appointments (预约办事): a booked time slot for one service item, checked in on the day
-- as a priority ticket; no-shows (爽约) are counted and repeated ones suspend booking rights.
-- Personal data: the real name is kept for the back office (实名预约); ID number and phone
-- only as keyed hashes (to match a person) and masks (to show).

CREATE TABLE appointments (
    id INTEGER PRIMARY KEY,
    code TEXT NOT NULL UNIQUE,          -- booking code: 8 random characters, unambiguous alphabet
    item TEXT NOT NULL REFERENCES items(code),
    business TEXT NOT NULL REFERENCES businesses(code),
    date TEXT NOT NULL,                 -- YYYY-MM-DD, the hall's local date
    slot_start TEXT NOT NULL,           -- HH:MM
    slot_end TEXT NOT NULL,             -- HH:MM
    name TEXT NOT NULL,                 -- shown masked outside the back office
    name_masked TEXT NOT NULL,
    id_hash TEXT NOT NULL,
    id_masked TEXT NOT NULL,
    phone_hash TEXT NOT NULL,
    phone_masked TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('booked', 'checked_in', 'cancelled', 'no_show')),
    booked_at TEXT NOT NULL,
    booked_by TEXT NOT NULL,            -- kiosk:<id>, staff:<job_no>
    cancelled_at TEXT,
    cancelled_by TEXT,
    checked_in_at TEXT,
    ticket_id INTEGER REFERENCES tickets(id),
    no_show_at TEXT,
    no_show_by TEXT                     -- day_rolled_over | day_closed
);
-- capacity: bookings that hold a place in a slot
CREATE INDEX appointments_slot ON appointments (date, business, slot_start, item)
    WHERE status IN ('booked', 'checked_in', 'no_show');
CREATE INDEX appointments_person ON appointments (id_hash, date);
CREATE INDEX appointments_open ON appointments (date) WHERE status = 'booked';

-- booking rights suspended after repeated no-shows; a row per suspension, never reused
CREATE TABLE appointment_suspensions (
    id INTEGER PRIMARY KEY,
    id_hash TEXT NOT NULL,
    id_masked TEXT NOT NULL,
    from_date TEXT NOT NULL,            -- first day without booking rights
    until_date TEXT NOT NULL,           -- last day without booking rights (inclusive)
    no_shows INTEGER NOT NULL,          -- no-shows counted when it was decided
    trigger_appointment INTEGER NOT NULL REFERENCES appointments(id),
    trigger_date TEXT NOT NULL,         -- no-shows on or before this day no longer count afterwards
    created_at TEXT NOT NULL,
    lifted_at TEXT,
    lifted_by TEXT
);
CREATE INDEX appointment_suspensions_person ON appointment_suspensions (id_hash, until_date);
