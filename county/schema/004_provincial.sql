-- The provincial hand-off (county/provincial.py, docs/provincial.md): ratings (好差评) and completed applications
-- (办结) taken from the halls' events, kept as records, grouped into batches, written to files per day and
-- pushed to the provincial platforms' endpoint through a persistent outbox (a restart resumes where it was).

-- How far each hall's events have been turned into records: every seq <= exported was looked at.
CREATE TABLE provincial_progress (
    site text PRIMARY KEY REFERENCES halls (site) ON DELETE CASCADE,
    exported bigint NOT NULL DEFAULT 0
);

-- The outbox: one row per batch, pushed in id order; a batch's id is what makes a resend idempotent.
CREATE TABLE provincial_batches (
    id bigserial PRIMARY KEY,
    batch_id text NOT NULL UNIQUE,              -- <county>-<site>-<first seq>-<last seq>: the same batch, the same id
    site text NOT NULL,
    records integer NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    attempts integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    last_error text,
    alerted boolean NOT NULL DEFAULT false,
    sent_at timestamptz                         -- NULL: still to push
);
CREATE INDEX provincial_batches_pending ON provincial_batches (id) WHERE sent_at IS NULL;

-- Every record once: (site, seq) of the event it was made from.
CREATE TABLE provincial_records (
    site text NOT NULL,
    seq bigint NOT NULL,
    kind text NOT NULL CHECK (kind IN ('rating', 'application')),
    day date NOT NULL,                          -- the hall's business day of the event: the file it goes in
    batch bigint NOT NULL REFERENCES provincial_batches (id),
    record jsonb NOT NULL,
    PRIMARY KEY (site, seq)
);
CREATE INDEX provincial_records_day ON provincial_records (kind, day);

-- An application's earlier events (its submission: the item code) found by its tracking number.
CREATE INDEX events_tracking_no ON events (site, (data->>'tracking_no')) WHERE data ? 'tracking_no';
