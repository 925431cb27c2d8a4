-- 026: a device's health is the report of (owner, device), not of a device name alone. Every MQTT identity
-- may publish under hallq/<site>/devices/<its own id>/... (hallq/mqtt_auth.py), so the <owner> segment of
-- the topic a report arrives on is its publisher; the name in it is whatever the publisher says. Keyed on
-- the name only, a kiosk could overwrite or delete the gateway's report of strip-1 (docs/security.md).
-- Now a report or an empty retained message from X touches only the rows X reported
-- (queue_server/health_listener.py, queue_server/domain/attention.py record_health, forget_health).
--
-- The rows kept so far get the owner that journalled their current state (the journal's device_health
-- entry, actor device:<owner>, whose ok and problems are the row's: the last change of that device's
-- state); a row whose state was never journalled (its device's first report was "ok") keeps owner NULL,
-- publisher unknown, until a report of that device replaces it (the broker replays every retained
-- report at the server's next connect).

CREATE TABLE device_health_026 (
    owner TEXT,                         -- the publisher: the <id> of devices/<id>/<device>/health; NULL: before 026
    device TEXT NOT NULL,               -- e.g. kiosk-1-printer, strip-3 (the publisher's name for it)
    kind TEXT NOT NULL,                 -- printer, id_reader, scanner, led_strip, keypad, rating_pad, audio
    ok INTEGER NOT NULL,
    problems TEXT NOT NULL,             -- JSON list of codes, e.g. ["paper_out"]
    reported_at TEXT NOT NULL,          -- the device's own time
    received_at TEXT NOT NULL,
    UNIQUE (owner, device)
);

INSERT INTO device_health_026 (owner, device, kind, ok, problems, reported_at, received_at)
WITH last AS (
    SELECT json_extract(data, '$.device') AS device, max(seq) AS seq FROM journal
    WHERE action = 'device_health' AND actor LIKE 'device:%' AND json_valid(data) GROUP BY 1
)
SELECT (SELECT substr(j.actor, 8) FROM last JOIN journal j ON j.seq = last.seq
        WHERE last.device = h.device AND json_extract(j.data, '$.ok') = h.ok
          AND json_valid(h.problems) AND json_extract(j.data, '$.problems') = json(h.problems)),
       h.device, h.kind, h.ok, h.problems, h.reported_at, h.received_at
FROM device_health h;

DROP TABLE device_health;
ALTER TABLE device_health_026 RENAME TO device_health;
