-- 020: a way to call a bad review back (回访): the phone a resident may leave with a bad rating,
-- with their consent (个人信息保护法 §13-14), ENCRYPTED at rest (AES-256-GCM, a key derived from
-- the installation's secret.key, bound to its rating), shown only to managers and every view
-- journaled (followup_contact_viewed). The row is deleted when the follow-up closes, or
-- [privacy] followup_contact_days after the rating by the retention job; docs/privacy.md.

CREATE TABLE followup_contacts (
    rating_id INTEGER PRIMARY KEY REFERENCES ratings(id),
    sealed BLOB NOT NULL,               -- 12-byte nonce + AES-GCM ciphertext and tag of the phone number
    consent TEXT NOT NULL,              -- the consent wording's version the resident agreed to
    given_at TEXT NOT NULL              -- when (the retention job deletes it followup_contact_days after)
);
CREATE INDEX followup_contacts_given ON followup_contacts (given_at);
