-- The hall's clock as the platform last measured it: the platform's clock less the hall's (seconds), and when.
-- The console and 就近办 count "today" and waits on the hall's own clock. Its latest live event shows the offset
-- (received at, less its time); a hall whose events all came by catch-up shows it through the journal page's
-- ``now`` (county/catchup.py), kept here. The newer of the two is used (county/console.py, HALL_OFFSET).
ALTER TABLE hall_progress ADD COLUMN clock_offset_seconds double precision;
ALTER TABLE hall_progress ADD COLUMN clock_offset_at timestamptz;
