-- 021: statistics of applications for supervision (监督), kept fast over years
-- (queue_server/domain/app_statistics.py, docs/statistics.md "Applications"):
--
-- * application_desks: the window whose clerk first took an application in (pre-review,
--   acceptance, correction notice or refusal), recorded by a trigger when it happens;
-- * stats_applications: counters per (day of submission, item, window), each past day rolled
--   up once; a change to any application of that day (accepted, corrected, decided weeks later),
--   its window being recorded, or a change of the calendar (working days) opens the day again,
--   and the next report rolls it up again. Today is read live.

CREATE TABLE application_desks (
    application_id INTEGER PRIMARY KEY REFERENCES applications(id),
    window INTEGER,                     -- NULL: the clerk was at no window (back office)
    staff_id INTEGER,
    at TEXT NOT NULL
);

CREATE TABLE stats_application_days (
    day TEXT PRIMARY KEY,               -- a day of submission whose rows in stats_applications are current
    rolled_at TEXT NOT NULL
);

CREATE TABLE stats_applications (
    day TEXT NOT NULL,                  -- submitted on (YYYY-MM-DD, the hall's time)
    item TEXT NOT NULL,
    window INTEGER NOT NULL,            -- 0: not taken in at a window (yet)
    received INTEGER NOT NULL,
    accepted INTEGER NOT NULL,
    corrected INTEGER NOT NULL,         -- sent a correction notice
    refused INTEGER NOT NULL,           -- 不予受理
    completed INTEGER NOT NULL,         -- a result is ready
    on_time INTEGER NOT NULL,           -- completed by the deadline (promised, else statutory; none: on time)
    late INTEGER NOT NULL,              -- completed after it (the still-open overdue are counted live)
    first_time INTEGER NOT NULL,        -- completed without a correction notice (一次办结)
    timed INTEGER NOT NULL,             -- completed with an acceptance date: the working days are summed over them
    workdays INTEGER NOT NULL,          -- sum of working days from acceptance to result
    PRIMARY KEY (day, item, window)
) WITHOUT ROWID;

-- the first step a clerk takes on an application: the window they are signed in at then
CREATE TRIGGER application_desk AFTER INSERT ON application_events
WHEN NEW.status IN ('pre_review', 'accepted', 'correction', 'rejected') AND NEW.actor LIKE 'staff:%'
BEGIN
    INSERT OR IGNORE INTO application_desks (application_id, window, staff_id, at)
    SELECT NEW.application_id, (SELECT w.number FROM windows w WHERE w.staff_id = s.id ORDER BY w.number LIMIT 1),
           s.id, NEW.at
    FROM staff s WHERE s.job_no = substr(NEW.actor, 7);
END;

CREATE TRIGGER stats_application_desk AFTER INSERT ON application_desks
BEGIN
    DELETE FROM stats_application_days
    WHERE day = (SELECT substr(submitted_at, 1, 10) FROM applications WHERE id = NEW.application_id);
END;

CREATE TRIGGER stats_application_changed AFTER UPDATE ON applications
BEGIN
    DELETE FROM stats_application_days WHERE day = substr(OLD.submitted_at, 1, 10);
END;

CREATE TRIGGER stats_application_new AFTER INSERT ON applications
BEGIN
    DELETE FROM stats_application_days WHERE day = substr(NEW.submitted_at, 1, 10);
END;

-- working days are counted on the calendar: a holiday set or a new configuration opens every day again
CREATE TRIGGER stats_application_calendar AFTER INSERT ON journal
WHEN NEW.action IN ('calendar_changed', 'config_applied')
BEGIN
    DELETE FROM stats_application_days;
END;

-- applications taken in before this version: the window where that clerk served tickets that day
-- (from the day's ticket rollup: a few hundred rows a day, where the tickets are thousands)
INSERT OR IGNORE INTO application_desks (application_id, window, staff_id, at)
SELECT e.application_id,
       (SELECT st.window FROM stats_tickets st WHERE st.business_day = substr(e.at, 1, 10) AND st.staff_id = s.id
        AND st.window != 0 ORDER BY st.served DESC LIMIT 1),
       s.id, e.at
FROM application_events e JOIN staff s ON s.job_no = substr(e.actor, 7)
WHERE e.status IN ('pre_review', 'accepted', 'correction', 'rejected') AND e.actor LIKE 'staff:%'
ORDER BY e.id;

-- a day's applications, and the ones still being decided (counted live as overdue)
CREATE INDEX applications_submitted ON applications (submitted_at);
