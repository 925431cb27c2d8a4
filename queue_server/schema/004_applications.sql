-- 004: applications (前台综合受理) and their progress (进度跟踪): a form and a materials
-- checklist submitted for one service item, pre-reviewed at the front desk, accepted or sent
-- back with ONE correction notice (一次性告知), decided by the back office, and delivered on
-- site or by free mail (seed 004 §四). Deadlines are dates counted in working days.

CREATE TABLE applications (
    id INTEGER PRIMARY KEY,
    tracking_no TEXT NOT NULL UNIQUE,   -- SQ20261123-K7Q2M9XP: date + 8 random characters
    item TEXT NOT NULL REFERENCES items(code),
    business TEXT NOT NULL REFERENCES businesses(code),
    status TEXT NOT NULL CHECK (status IN
        ('submitted', 'pre_review', 'accepted', 'correction', 'rejected', 'result_ready', 'delivered')),
    applicant_name TEXT NOT NULL,       -- back office only; masked everywhere else
    name_masked TEXT NOT NULL,
    id_hash TEXT NOT NULL,
    id_masked TEXT NOT NULL,
    phone_hash TEXT NOT NULL,
    phone_masked TEXT NOT NULL,
    fields TEXT NOT NULL DEFAULT '{}',  -- JSON: the form's values (back office only)
    materials TEXT NOT NULL DEFAULT '[]', -- JSON: indexes of the item's materials provided
    delivery TEXT NOT NULL CHECK (delivery IN ('onsite', 'mail')),
    mail_to TEXT,                       -- JSON {recipient, phone, address} for free mailing (back office only)
    submitted_at TEXT NOT NULL,
    review_by TEXT,                     -- date: pre-review (受理与否) due, 5 working days
    accepted_at TEXT,
    promised_by TEXT,                   -- date: promised time limit (承诺时限)
    statutory_by TEXT,                  -- date: statutory time limit (法定时限)
    deadline_basis TEXT NOT NULL DEFAULT 'submitted', -- 'submitted' (estimate) or 'accepted'
    decision TEXT,                      -- result_ready: approved | refused
    result_at TEXT,
    delivered_at TEXT,
    delivered_by_method TEXT,           -- onsite | mail
    waybill TEXT,
    correction TEXT,                    -- JSON: the one correction notice (first one) and its items
    source TEXT NOT NULL,               -- kiosk:<id>, staff:<job_no>
    updated_at TEXT NOT NULL
);
CREATE INDEX applications_person ON applications (id_hash, submitted_at);
CREATE INDEX applications_status ON applications (status, updated_at);
CREATE INDEX applications_item ON applications (item, submitted_at);

-- the timeline the applicant sees; one row per change, append-only
CREATE TABLE application_events (
    id INTEGER PRIMARY KEY,
    application_id INTEGER NOT NULL REFERENCES applications(id),
    status TEXT NOT NULL,               -- the status entered (supplements re-enter pre_review)
    at TEXT NOT NULL,
    actor TEXT NOT NULL,
    note TEXT NOT NULL DEFAULT '{}',    -- JSON texts for the applicant
    data TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX application_events_app ON application_events (application_id, id);
CREATE TRIGGER application_events_no_update BEFORE UPDATE ON application_events
    BEGIN SELECT RAISE(ABORT, 'the application timeline is append-only'); END;
CREATE TRIGGER application_events_no_delete BEFORE DELETE ON application_events
    BEGIN SELECT RAISE(ABORT, 'the application timeline is append-only'); END;
