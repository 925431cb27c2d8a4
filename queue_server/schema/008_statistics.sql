-- 008: statistics (办件统计) kept fast over years: each closed business day is rolled up once
-- into counters per (day, hour of arrival, business, window, staff) and wait-time histograms per
-- dimension; today is computed live from the tickets with the same SQL.

CREATE TABLE stats_days (
    business_day TEXT PRIMARY KEY,
    rolled_at TEXT NOT NULL
);

CREATE TABLE stats_tickets (
    business_day TEXT NOT NULL,
    hour INTEGER NOT NULL,              -- hour of arrival (issue), 0-23
    business TEXT NOT NULL,
    window INTEGER NOT NULL,            -- 0: never reached a window
    staff_id INTEGER NOT NULL,          -- 0: nobody
    issued INTEGER NOT NULL,
    done INTEGER NOT NULL,
    no_show INTEGER NOT NULL,
    cancelled INTEGER NOT NULL,
    expired INTEGER NOT NULL,
    green INTEGER NOT NULL,
    appointment INTEGER NOT NULL,
    waited INTEGER NOT NULL,            -- tickets that were called
    wait_s INTEGER NOT NULL,            -- sum of their waits (issue → call), seconds
    served INTEGER NOT NULL,            -- tickets with a service time
    service_s INTEGER NOT NULL,         -- sum of service times (start → complete), seconds
    rated INTEGER NOT NULL,
    level_sum INTEGER NOT NULL,
    good INTEGER NOT NULL,              -- levels 3-5
    bad INTEGER NOT NULL,               -- levels 1-2 (appeals upheld excluded)
    PRIMARY KEY (business_day, hour, business, window, staff_id)
) WITHOUT ROWID;

-- waits per dimension in minute buckets, for percentiles: dim is all, hour, business, window,
-- staff, or business_hour / business_window / business_staff (key "<business>|<other>")
CREATE TABLE stats_waits (
    dim TEXT NOT NULL,
    key TEXT NOT NULL,
    business_day TEXT NOT NULL,
    bucket INTEGER NOT NULL,            -- lower bound in minutes, see queue_server/domain/statistics.py
    n INTEGER NOT NULL,
    PRIMARY KEY (dim, key, business_day, bucket)
) WITHOUT ROWID;
CREATE INDEX stats_waits_day ON stats_waits (business_day);

-- a rating given days later (allowed for rate_within_workdays) reopens that day's rollup
CREATE TRIGGER stats_late_rating AFTER INSERT ON ratings
BEGIN
    DELETE FROM stats_days WHERE business_day = NEW.business_day;
END;
