-- Supervision gaps of issue 13 item 2: departments in the console's rollup, alerts an operator acknowledges and
-- resolves, the platform's own audit journal, and sign-in throttling of the platform's accounts.

-- The department (部门) of a ticket's, a rating's or an application's item travels with the hall's events
-- (data.department, as the hall's catalogue said when it happened); the fold keeps it beside the item.
ALTER TABLE console_tickets ADD COLUMN department text NOT NULL DEFAULT '';
ALTER TABLE console_daily ADD COLUMN department text NOT NULL DEFAULT '';
ALTER TABLE console_daily DROP CONSTRAINT console_daily_pkey;
ALTER TABLE console_daily ADD PRIMARY KEY (day, site, business, item, department);

-- An alert is open (cleared_at NULL), maybe acknowledged (someone is on it), and ends either by itself (its
-- condition gone: cleared_at, resolved_by NULL) or resolved by a supervisor (resolved_by, resolution). One that
-- fires again after either is a new row (alerts_open is on the open ones only).
ALTER TABLE alerts ADD COLUMN acknowledged_at timestamptz;
ALTER TABLE alerts ADD COLUMN acknowledged_by text;
ALTER TABLE alerts ADD COLUMN acknowledgement text;
ALTER TABLE alerts ADD COLUMN resolved_by text;
ALTER TABLE alerts ADD COLUMN resolution text;
CREATE INDEX alerts_closed ON alerts (cleared_at DESC) WHERE cleared_at IS NOT NULL;

-- The platform's own journal (append-only): what its accounts did (an alert acknowledged or resolved) and what
-- was done to them (a sign-in throttle started or ended).
CREATE TABLE audit (
    id bigserial PRIMARY KEY,
    at timestamptz NOT NULL DEFAULT now(),
    actor text NOT NULL,                        -- an account's username, or 'platform'
    action text NOT NULL,
    site text,                                  -- the hall it concerns, if one
    data jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_at ON audit (at);
CREATE FUNCTION audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the audit journal is append-only';
END $$;
CREATE TRIGGER audit_append_only BEFORE UPDATE OR DELETE ON audit
    FOR EACH ROW EXECUTE FUNCTION audit_append_only();

-- Sign-in throttles (hallq/throttle.py, the same rules as a hall's): per (client, username) and per client over
-- every account (username '').
CREATE TABLE sign_in_throttles (
    client text NOT NULL,
    username text NOT NULL,
    failures integer NOT NULL DEFAULT 0,
    last_failure_at timestamptz,
    refused_until timestamptz,
    throttled_since timestamptz,
    last_success_at timestamptz,
    PRIMARY KEY (client, username)
);

-- The platform's own secrets (made once by the first process that needs them): the console's CSRF key.
CREATE TABLE platform_secrets (
    name text PRIMARY KEY,
    value bytea NOT NULL
);
