-- What each hall's server last said of itself (its availability, bridged with its journal), and since when:
-- online, offline (its last will: the hall's server or its link is gone) or stopped (a clean shutdown).
ALTER TABLE hall_progress ADD COLUMN server_state text CHECK (server_state IN ('online', 'offline', 'stopped'));
ALTER TABLE hall_progress ADD COLUMN server_state_since timestamptz;
