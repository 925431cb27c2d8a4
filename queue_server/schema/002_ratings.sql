-- 002: ratings (好差评, GB/T 39734-2020): five levels, one per case and stage, given by the resident.

CREATE TABLE ratings (
    id INTEGER PRIMARY KEY,
    ticket_id INTEGER NOT NULL REFERENCES tickets(id),
    stage TEXT NOT NULL DEFAULT 'window',   -- the stage rated (window service; later: result delivery)
    level INTEGER NOT NULL CHECK (level BETWEEN 1 AND 5),
    bad INTEGER NOT NULL,                   -- 1 for 不满意 / 非常不满意 (levels 1-2)
    reasons TEXT NOT NULL DEFAULT '[]',     -- JSON list of reason codes
    comment TEXT NOT NULL DEFAULT '',
    business_day TEXT NOT NULL,
    business TEXT NOT NULL,
    item TEXT,
    window INTEGER,
    staff_id INTEGER,
    source TEXT NOT NULL,                   -- device:pad-3, kiosk:kiosk-1, tablet:tablet-1, phone, default
    is_default INTEGER NOT NULL DEFAULT 0,  -- given by the rule when the resident gave none
    rated_at TEXT NOT NULL,
    UNIQUE (ticket_id, stage)
);
CREATE INDEX ratings_day ON ratings (business_day);
CREATE INDEX ratings_bad ON ratings (bad, rated_at) WHERE bad = 1;
