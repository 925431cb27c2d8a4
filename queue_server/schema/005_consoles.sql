-- 005: what the staff and manager consoles need besides the core: per-IP login throttling,
-- account bookkeeping (who created an account, forced password change after a reset), and an
-- index for the rating prompts a window's clerk sends to its rating tablet or pad.

-- failed sign-ins per client address (the per-account lock lives on staff.locked_until)
CREATE TABLE login_failures (
    ip TEXT NOT NULL,
    at TEXT NOT NULL
);
CREATE INDEX login_failures_ip ON login_failures (ip, at);

-- one row per account managed in the console (accounts from hall.toml may have none)
CREATE TABLE staff_accounts (
    staff_id INTEGER PRIMARY KEY REFERENCES staff(id),
    created_at TEXT,
    created_by TEXT,                    -- staff:<job_no> of the manager or administrator
    password_changed_at TEXT,
    must_change_password INTEGER NOT NULL DEFAULT 0  -- set by a reset: the temporary password is for one sign-in
);

-- "please rate": the newest prompt per window (journal action rating_prompt)
CREATE INDEX journal_rating_prompts ON journal (window, seq) WHERE action = 'rating_prompt';
