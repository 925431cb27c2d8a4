-- The county platform's tables (PostgreSQL). A release adds a file; it never edits an applied one.

-- The registry: every hall of the county, loaded from the county config (county.toml).
CREATE TABLE halls (
    site text PRIMARY KEY,                      -- the hall's [hall] site: its MQTT prefix hallq/<site>/
    level text NOT NULL CHECK (level IN ('city', 'district', 'town', 'village')),
    parent text REFERENCES halls (site) DEFERRABLE INITIALLY DEFERRED,
    name jsonb NOT NULL,                        -- {"zh-Hans": ..., "zh-Hant": ..., "en": ...}
    address text NOT NULL DEFAULT '',
    latitude double precision CHECK (latitude BETWEEN -90 AND 90),
    longitude double precision CHECK (longitude BETWEEN -180 AND 180),
    businesses text[] NOT NULL DEFAULT '{}',
    journal_url text NOT NULL,                  -- the hall's server, e.g. https://town-a.example:8443
    credential text NOT NULL,                   -- where the county's key for that hall is: env:NAME or file:/path
    active boolean NOT NULL DEFAULT true,
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- How far each hall's journal is known: every seq <= high_water is either in events, in the
-- quarantine, or confirmed absent by the hall's own journal (GET /api/v1/journal).
CREATE TABLE hall_progress (
    site text PRIMARY KEY REFERENCES halls (site) ON DELETE CASCADE,
    high_water bigint NOT NULL DEFAULT 0,
    max_seen bigint NOT NULL DEFAULT 0,         -- the highest seq heard live (above high_water: a gap)
    live_events bigint NOT NULL DEFAULT 0,
    catchup_events bigint NOT NULL DEFAULT 0,
    duplicates bigint NOT NULL DEFAULT 0,
    last_event_at timestamptz,                  -- the hall's time of its newest event
    last_heard_at timestamptz,                  -- when the platform last heard from it (live or catch-up)
    last_catchup_at timestamptz,
    catchup_error text                          -- the last catch-up failure, NULL once one succeeds
);

-- Every journal entry of every hall, once: (site, seq) is the key of exactly-once in effect.
CREATE TABLE events (
    site text NOT NULL REFERENCES halls (site),
    seq bigint NOT NULL CHECK (seq > 0),
    at timestamptz NOT NULL,                    -- the hall's time of the entry
    business_day date NOT NULL,
    actor text NOT NULL,
    action text NOT NULL,
    ticket text,
    business text,
    window_no integer,
    data jsonb NOT NULL,
    digest text NOT NULL,                       -- sha256 of the canonical event: a replay under a used seq differs
    source text NOT NULL CHECK (source IN ('live', 'catchup')),
    received_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (site, seq)
);
CREATE INDEX events_day ON events (business_day, site);
CREATE INDEX events_action ON events (action, business_day);

-- What was refused: kept for an operator to look at, never counted.
CREATE TABLE quarantine (
    id bigserial PRIMARY KEY,
    received_at timestamptz NOT NULL DEFAULT now(),
    site text,                                  -- as claimed by the topic or the payload (maybe unknown)
    seq bigint,
    reason text NOT NULL CHECK (reason IN ('unknown_hall', 'malformed', 'oversized', 'clock_skew', 'seq_reset',
                                           'site_mismatch', 'bad_catchup')),
    detail text NOT NULL,
    source text NOT NULL CHECK (source IN ('live', 'catchup')),
    topic text,
    digest text,
    payload bytea                               -- the first 4 KB of what arrived
);
CREATE INDEX quarantine_site ON quarantine (site, seq);

-- Alerts for the supervision office: one open alert per hall and kind.
CREATE TABLE alerts (
    id bigserial PRIMARY KEY,
    site text,
    kind text NOT NULL,
    detail text NOT NULL,
    raised_at timestamptz NOT NULL DEFAULT now(),
    last_at timestamptz NOT NULL DEFAULT now(),
    count bigint NOT NULL DEFAULT 1,
    cleared_at timestamptz
);
CREATE UNIQUE INDEX alerts_open ON alerts (COALESCE(site, ''), kind) WHERE cleared_at IS NULL;

-- The platform's own accounts: county supervisors see every hall, a hall manager only their own.
CREATE TABLE accounts (
    username text PRIMARY KEY CHECK (username ~ '^[a-z0-9][a-z0-9._-]{0,39}$'),
    display_name text NOT NULL DEFAULT '',
    role text NOT NULL CHECK (role IN ('supervisor', 'hall_manager')),
    site text REFERENCES halls (site),
    password_hash text NOT NULL,               -- argon2id
    active boolean NOT NULL DEFAULT true,
    CHECK ((role = 'hall_manager') = (site IS NOT NULL))
);

CREATE TABLE sessions (
    token_sha256 text PRIMARY KEY,
    username text NOT NULL REFERENCES accounts (username) ON DELETE CASCADE,
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL
);
