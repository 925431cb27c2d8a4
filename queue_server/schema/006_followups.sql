-- 006: following up bad reviews (差评整改, GB/T 39734-2020; 国办发〔2019〕51号): each rating of
-- level 1-2 is owned by whoever handled the case and goes verify (回访核实) → fix (整改) →
-- report back (反馈) within a deadline in working days; a malicious review can be appealed (申诉).

CREATE TABLE followups (
    id INTEGER PRIMARY KEY,
    rating_id INTEGER NOT NULL UNIQUE REFERENCES ratings(id),
    state TEXT NOT NULL CHECK (state IN ('open', 'verified', 'fixed', 'closed')),
    owner_staff_id INTEGER REFERENCES staff(id), -- who handled the case
    opened_at TEXT NOT NULL,
    due_date TEXT NOT NULL,             -- YYYY-MM-DD: followup_workdays working days after the rating
    verified_at TEXT,
    verified_by TEXT,
    verify_note TEXT,
    complaint_valid INTEGER,            -- 1: the complaint was confirmed; 0: not (still reported back)
    fixed_at TEXT,
    fixed_by TEXT,
    fix_note TEXT,
    closed_at TEXT,
    closed_by TEXT,
    report_note TEXT,                   -- what the resident was told
    appeal_state TEXT CHECK (appeal_state IN ('pending', 'upheld', 'rejected')),
    appeal_reason TEXT,
    appealed_at TEXT,
    appealed_by TEXT,
    appeal_decided_at TEXT,
    appeal_decided_by TEXT,
    appeal_note TEXT
);
CREATE INDEX followups_state ON followups (state, due_date);
CREATE INDEX followups_owner ON followups (owner_staff_id, state);
