-- 009: hall settings a manager changes at run time, over the hall.toml defaults: holidays and
-- make-up workdays (调休) for years the calendar package does not know, opening periods, and the
-- appointment capacity per slot.

CREATE TABLE calendar_overrides (
    day TEXT PRIMARY KEY,               -- YYYY-MM-DD
    kind TEXT NOT NULL CHECK (kind IN ('holiday', 'workday')),
    note TEXT NOT NULL DEFAULT '',
    changed_at TEXT NOT NULL,
    changed_by TEXT NOT NULL
);

-- key: 'workdays' (periods on working days) or a weekday name; value: JSON ["09:00-12:00", ...]
CREATE TABLE hours_overrides (
    key TEXT PRIMARY KEY,
    periods TEXT NOT NULL,
    changed_at TEXT NOT NULL,
    changed_by TEXT NOT NULL
);

-- appointment places per slot: scope 'default' (key ''), 'item' (item code) or 'business' (code)
CREATE TABLE capacity_overrides (
    scope TEXT NOT NULL CHECK (scope IN ('default', 'item', 'business')),
    key TEXT NOT NULL,
    capacity INTEGER NOT NULL CHECK (capacity >= 0),
    changed_at TEXT NOT NULL,
    changed_by TEXT NOT NULL,
    PRIMARY KEY (scope, key)
);
