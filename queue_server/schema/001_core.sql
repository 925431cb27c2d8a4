-- 001: the core of the queue: businesses, items, windows and their allocation, staff,
-- devices, sessions, tickets, idempotent requests, counters, the journal, notices.
-- Times are ISO-8601 text in the hall's time zone (one fixed offset in China), which
-- sorts like time and reads well in the sqlite3 shell.

CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);

CREATE TABLE businesses (
    code TEXT PRIMARY KEY,
    prefix TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,                 -- JSON {"zh-Hans":..,"zh-Hant":..,"en":..}
    daily_limit INTEGER NOT NULL,
    ticket_requires TEXT NOT NULL DEFAULT 'none',
    service_minutes INTEGER NOT NULL,
    age_limit_minutes INTEGER NOT NULL,
    position INTEGER NOT NULL DEFAULT 0,
    active INTEGER NOT NULL DEFAULT 1
);

CREATE TABLE items (
    code TEXT PRIMARY KEY,
    business TEXT NOT NULL REFERENCES businesses(code),
    name TEXT NOT NULL,
    guide TEXT NOT NULL,                -- JSON: conditions, materials, time limits, fee, basis...
    position INTEGER NOT NULL DEFAULT 0,
    active INTEGER NOT NULL DEFAULT 1
);

CREATE TABLE staff (
    id INTEGER PRIMARY KEY,
    job_no TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('staff', 'manager', 'admin')),
    password_hash TEXT NOT NULL,
    active INTEGER NOT NULL DEFAULT 1,
    failed_logins INTEGER NOT NULL DEFAULT 0,
    locked_until TEXT
);

CREATE TABLE windows (
    number INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    kind TEXT NOT NULL,
    area TEXT NOT NULL DEFAULT '',
    state TEXT NOT NULL DEFAULT 'closed' CHECK (state IN ('open', 'paused', 'closed')),
    pause_reason TEXT,
    staff_id INTEGER REFERENCES staff(id),
    active INTEGER NOT NULL DEFAULT 1,
    updated_at TEXT
);

-- which businesses a window serves, ranked (1 = primary)
CREATE TABLE allocation (
    window INTEGER NOT NULL REFERENCES windows(number),
    business TEXT NOT NULL REFERENCES businesses(code),
    rank INTEGER NOT NULL CHECK (rank >= 1),
    PRIMARY KEY (window, business)
);

CREATE TABLE devices (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    key_sha256 TEXT NOT NULL UNIQUE,
    windows TEXT NOT NULL DEFAULT '[]',
    active INTEGER NOT NULL DEFAULT 1
);

CREATE TABLE sessions (
    token_sha256 TEXT PRIMARY KEY,
    staff_id INTEGER NOT NULL REFERENCES staff(id),
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL
);

CREATE TABLE tickets (
    id INTEGER PRIMARY KEY,
    public_id TEXT NOT NULL UNIQUE,     -- unguessable, for the resident's phone page
    business_day TEXT NOT NULL,
    business TEXT NOT NULL REFERENCES businesses(code),
    number INTEGER NOT NULL,
    label TEXT NOT NULL,                -- A001
    item TEXT,
    class INTEGER NOT NULL,             -- 0 green channel, 1 appointment, 2 ordinary
    green_reason TEXT,
    state TEXT NOT NULL CHECK (state IN
        ('waiting', 'called', 'serving', 'held', 'done', 'no_show', 'cancelled', 'expired')),
    target_window INTEGER,              -- set by a transfer to a window
    window INTEGER,                     -- the window that called / serves / holds it
    staff_id INTEGER,
    issued_at TEXT NOT NULL,
    arrived_at TEXT NOT NULL,           -- place in the queue (kept by transfers)
    called_at TEXT,
    started_at TEXT,
    finished_at TEXT,
    calls INTEGER NOT NULL DEFAULT 0,
    recalls INTEGER NOT NULL DEFAULT 0,
    requeues INTEGER NOT NULL DEFAULT 0,
    transfers INTEGER NOT NULL DEFAULT 0,
    origin_business TEXT NOT NULL REFERENCES businesses(code),
    id_hash TEXT,                       -- keyed hash of the ID number, never the number
    id_masked TEXT,
    phone_hash TEXT,
    phone_masked TEXT,
    source TEXT NOT NULL,               -- kiosk:<id>, staff:<job_no>, device:<id>
    -- a number belongs to the business that issued it, for the whole day,
    -- even after the ticket is transferred to another business
    UNIQUE (business_day, origin_business, number)
);
-- dispatch: the best waiting ticket of one business, by class then arrival
CREATE INDEX tickets_waiting ON tickets (business_day, business, class, arrived_at, id)
    WHERE state = 'waiting' AND target_window IS NULL;
-- dispatch: the oldest waiting ticket of one business (age limit)
CREATE INDEX tickets_waiting_age ON tickets (business_day, business, arrived_at, id)
    WHERE state = 'waiting' AND target_window IS NULL;
CREATE INDEX tickets_directed ON tickets (target_window, arrived_at, id)
    WHERE state = 'waiting' AND target_window IS NOT NULL;
CREATE INDEX tickets_at_window ON tickets (window, state)
    WHERE state IN ('called', 'serving', 'held');
CREATE INDEX tickets_finished ON tickets (business, finished_at) WHERE state = 'done';
CREATE INDEX tickets_day_state ON tickets (business_day, state);
-- one open ticket per person per business per day (stops touts, 黄牛)
CREATE UNIQUE INDEX tickets_one_open_per_person ON tickets (business_day, business, id_hash)
    WHERE id_hash IS NOT NULL AND state IN ('waiting', 'called', 'serving', 'held');

-- waiting tickets per queue and class, kept by triggers in the same transaction as the
-- change, so "people ahead" and the boards' counts cost O(1) however long the queue
CREATE TABLE queue_counts (
    business_day TEXT NOT NULL,
    business TEXT NOT NULL,
    class INTEGER NOT NULL,
    waiting INTEGER NOT NULL CHECK (waiting >= 0),
    PRIMARY KEY (business_day, business, class)
) WITHOUT ROWID;
CREATE TRIGGER tickets_count_insert AFTER INSERT ON tickets WHEN NEW.state = 'waiting'
BEGIN
    INSERT INTO queue_counts (business_day, business, class, waiting)
        VALUES (NEW.business_day, NEW.business, NEW.class, 1)
        ON CONFLICT DO UPDATE SET waiting = waiting + 1;
END;
CREATE TRIGGER tickets_count_update AFTER UPDATE OF state, business, class, business_day ON tickets
    WHEN OLD.state = 'waiting' OR NEW.state = 'waiting'
BEGIN
    UPDATE queue_counts SET waiting = waiting - 1
        WHERE OLD.state = 'waiting' AND business_day = OLD.business_day AND business = OLD.business
          AND class = OLD.class;
    INSERT INTO queue_counts (business_day, business, class, waiting)
        SELECT NEW.business_day, NEW.business, NEW.class, 1 WHERE NEW.state = 'waiting'
        ON CONFLICT DO UPDATE SET waiting = waiting + 1;
END;

-- idempotent requests: a retried POST returns what the first one made
CREATE TABLE requests (
    client TEXT NOT NULL,
    key TEXT NOT NULL,
    status INTEGER NOT NULL,
    response TEXT NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (client, key)
);

CREATE TABLE counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);

-- the append-only journal of every change: audit trail, statistics, MQTT outbox
CREATE TABLE journal (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    at TEXT NOT NULL,
    business_day TEXT NOT NULL,
    actor TEXT NOT NULL,                -- staff:1001, kiosk:kiosk-1, device:gw-1, system
    action TEXT NOT NULL,
    ticket_id INTEGER,
    ticket TEXT,
    business TEXT,
    window INTEGER,
    data TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX journal_ticket ON journal (ticket_id);
CREATE INDEX journal_day_action ON journal (business_day, action);
CREATE TRIGGER journal_no_update BEFORE UPDATE ON journal
    BEGIN SELECT RAISE(ABORT, 'the journal is append-only'); END;
CREATE TRIGGER journal_no_delete BEFORE DELETE ON journal
    BEGIN SELECT RAISE(ABORT, 'the journal is append-only'); END;

CREATE TABLE notices (
    id INTEGER PRIMARY KEY,
    text TEXT NOT NULL,                 -- JSON texts
    level TEXT NOT NULL DEFAULT 'info',
    until TEXT,
    created_at TEXT NOT NULL,
    active INTEGER NOT NULL DEFAULT 1
);
