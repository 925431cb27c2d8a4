-- 014: sign-in throttling by client and by (client, account) instead of account locks and one
-- counter per address; an idle limit for console sessions; finding the tickets whose personal
-- data is still kept (retention). See docs/security.md and docs/privacy.md.

-- one row per client address and account tried ('' = the client's failures on any account).
-- A row ends its delays at a good sign-in (its pair), when lifted, or after a quiet day.
CREATE TABLE sign_in_throttles (
    client TEXT NOT NULL,               -- the client's address (behind a trusted proxy: the forwarded one)
    job_no TEXT NOT NULL,               -- the account tried, or '' for every account from this client
    failures INTEGER NOT NULL DEFAULT 0,  -- wrong passwords since the last good sign-in, lift or quiet day
    last_failure_at TEXT,
    refused_until TEXT,                 -- attempts are refused (429) until then; NULL: not throttled
    throttled_since TEXT,               -- when the delays began (journaled with the end)
    last_success_at TEXT,               -- a good sign-in for this account from this client
    PRIMARY KEY (client, job_no)
) WITHOUT ROWID;
CREATE INDEX sign_in_throttles_active ON sign_in_throttles (throttled_since) WHERE throttled_since IS NOT NULL;

-- the per-address counter it replaces
DROP TABLE login_failures;

-- a console (browser) session's last request; NULL for API tokens, which have no idle limit
ALTER TABLE sessions ADD COLUMN last_seen_at TEXT;

-- tickets that still carry an ID number's or a phone's hash and mask (erased after [privacy] days)
CREATE INDEX tickets_personal ON tickets (business_day) WHERE id_masked IS NOT NULL OR phone_masked IS NOT NULL;
