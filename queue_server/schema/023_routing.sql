-- 023: applications routed between halls (就近办 across halls, docs/county.md "Routed applications").
-- A village station accepts an application for an item that only a town or county hall handles and
-- forwards it through the county platform (queue_server/domain/routing.py, queue_server/routing_outbox.py);
-- the handling hall files it as one of its own applications, marked with where it came from.

-- at the handling hall: where an application came from (NULL: taken in here). (origin_site, origin_no) is
-- the village's receipt; a retry of the same forward finds it and files nothing twice.
ALTER TABLE applications ADD COLUMN origin_site TEXT;
ALTER TABLE applications ADD COLUMN origin_no TEXT;
ALTER TABLE applications ADD COLUMN origin_name TEXT;   -- JSON texts: 来自 XX村便民服务站
CREATE UNIQUE INDEX applications_origin ON applications (origin_site, origin_no) WHERE origin_site IS NOT NULL;

-- at the village: the items it routes, with the handling hall's definition (name, form, materials,
-- department), fetched ahead of time from the platform and kept so the kiosk works offline
CREATE TABLE routed_items (
    item TEXT PRIMARY KEY,
    target TEXT NOT NULL,               -- the handling hall's site
    target_name TEXT NOT NULL,          -- JSON texts
    definition TEXT NOT NULL,           -- JSON: the handling hall's GET /items/{code}/form answer
    digest TEXT NOT NULL,               -- SHA-256 of the definition: a change is journaled once
    fetched_at TEXT NOT NULL,
    active INTEGER NOT NULL DEFAULT 1   -- 0: the county no longer routes it from here
);

-- at the village: each routed application (its receipt) and the outbox state of its forward
CREATE TABLE routed_applications (
    id INTEGER PRIMARY KEY,
    tracking_no TEXT NOT NULL UNIQUE,   -- the village's receipt number; the handling hall files it under it
    item TEXT NOT NULL,
    item_name TEXT NOT NULL,            -- JSON texts, as the definition had it when submitted
    target TEXT NOT NULL,
    target_name TEXT NOT NULL,          -- JSON texts
    name_masked TEXT NOT NULL,
    id_hash TEXT NOT NULL,
    id_masked TEXT NOT NULL,
    phone_masked TEXT NOT NULL,
    payload TEXT,                       -- JSON sent to the handling hall (applicant, fields, materials...):
                                        -- cleared once the handling hall has it (nothing personal kept here)
    delivery TEXT NOT NULL CHECK (delivery IN ('onsite', 'mail')),
    submitted_at TEXT NOT NULL,
    source TEXT NOT NULL,               -- kiosk:<id>, staff:<job_no>
    outbox TEXT NOT NULL DEFAULT 'queued' CHECK (outbox IN ('queued', 'forwarded', 'refused')),
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,                    -- why the last forward failed (cause and fix), for the console
    next_try_at TEXT,
    forwarded_at TEXT,
    refusal TEXT,                       -- JSON: the handling hall's error when it refused the application
    remote TEXT,                        -- JSON: the handling hall's view (status, timeline) last fetched
    remote_status TEXT,
    remote_at TEXT                      -- when that view was fetched (stale state says since when)
);
CREATE INDEX routed_applications_person ON routed_applications (id_hash, submitted_at);
CREATE INDEX routed_applications_outbox ON routed_applications (outbox, id);
