-- 010: indexes that keep the boards' snapshots cheap however long the day has been.

-- the newest calls of the day, and the newest call per business (board, queue snapshots)
CREATE INDEX journal_calls_day ON journal (business_day, seq)
    WHERE action IN ('call', 'recall', 'call_back');
CREATE INDEX journal_calls_business ON journal (business, business_day, seq)
    WHERE action IN ('call', 'recall', 'call_back');
