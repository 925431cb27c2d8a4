-- 007: tidal windows (潮汐窗口, seed 004): windows lent to a business under pressure and given
-- back when it eases. One open assignment per window; alerts for the manager console.

CREATE TABLE tidal_assignments (
    id INTEGER PRIMARY KEY,
    window INTEGER NOT NULL REFERENCES windows(number),
    business TEXT NOT NULL REFERENCES businesses(code),
    previous_serves TEXT NOT NULL,      -- JSON: the window's ranked businesses before, restored on release
    assigned_at TEXT NOT NULL,
    assigned_by TEXT NOT NULL,          -- system, or staff:<job_no> for a manual assignment
    reason TEXT NOT NULL DEFAULT '{}',  -- JSON: waiting count and estimate that triggered it
    released_at TEXT,
    released_by TEXT
);
CREATE UNIQUE INDEX tidal_assignments_open ON tidal_assignments (window) WHERE released_at IS NULL;

-- a business is "under pressure" from the moment a rule triggers until it eases (hysteresis)
CREATE TABLE tidal_pressure (
    business TEXT PRIMARY KEY REFERENCES businesses(code),
    since TEXT NOT NULL,
    waiting INTEGER NOT NULL,
    est_wait_minutes INTEGER
);

CREATE TABLE tidal_alerts (
    id INTEGER PRIMARY KEY,
    at TEXT NOT NULL,
    business TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('pressure', 'eased', 'assigned', 'released', 'no_window')),
    window INTEGER,
    waiting INTEGER,
    est_wait_minutes INTEGER,
    acknowledged_at TEXT,
    acknowledged_by TEXT
);
CREATE INDEX tidal_alerts_open ON tidal_alerts (acknowledged_at, id);
