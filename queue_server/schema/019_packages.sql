-- 019: 一件事 packages (高效办成一件事, 国发〔2024〕3号): several items filed at once, with one form, one
-- set of materials and ONE tracking number; behind the comprehensive window each member item is its own
-- 办件 (an applications row with package_id), decided by its department within its own deadline.
-- Also: how a result was handed over on site (统一出件: whose ID card the clerk checked, masked).

CREATE TABLE package_applications (
    id INTEGER PRIMARY KEY,
    tracking_no TEXT NOT NULL UNIQUE,   -- SQ20261206-K7Q2M9XP; its parts are <tracking_no>-1, -2...
    package TEXT NOT NULL,              -- [[packages]] code in the hall config
    name TEXT NOT NULL,                 -- JSON texts: the package's name when filed
    applicant_name TEXT NOT NULL,       -- back office only; masked everywhere else
    name_masked TEXT NOT NULL,
    id_hash TEXT NOT NULL,
    id_masked TEXT NOT NULL,
    phone_hash TEXT NOT NULL,
    phone_masked TEXT NOT NULL,
    fields TEXT NOT NULL DEFAULT '{}',  -- JSON: the one form's answers (back office only)
    materials TEXT NOT NULL DEFAULT '[]', -- JSON: names of the merged materials handed in
    delivery TEXT NOT NULL CHECK (delivery IN ('onsite', 'mail')),
    submitted_at TEXT NOT NULL,
    source TEXT NOT NULL                -- kiosk:<id>, staff:<job_no>, api:<client>
);
CREATE INDEX package_applications_person ON package_applications (id_hash, submitted_at);

ALTER TABLE applications ADD COLUMN package_id INTEGER REFERENCES package_applications(id);
ALTER TABLE applications ADD COLUMN handed_to TEXT;  -- JSON {collector, id_masked, name_masked}: 出件 on site
CREATE INDEX applications_package ON applications (package_id) WHERE package_id IS NOT NULL;
