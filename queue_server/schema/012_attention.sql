-- 012: what needs a person. A resident at a kiosk asks for staff (找工作人员帮忙): the request shows on
-- every console until a clerk takes it. Devices report their health on MQTT
-- (hallq/<site>/devices/<id>/health, retained); the server keeps the latest report of each, so the
-- consoles can say "kiosk-1-printer: paper out" to the people who can load a roll.

CREATE TABLE help_requests (
    id INTEGER PRIMARY KEY,
    device TEXT NOT NULL,               -- the kiosk's device id (hall.toml [[devices]])
    place TEXT NOT NULL DEFAULT '',     -- where it stands ([[devices]] place), for the clerk who goes
    business_day TEXT NOT NULL,
    requested_at TEXT NOT NULL,
    state TEXT NOT NULL DEFAULT 'open' CHECK (state IN ('open', 'taken')),
    taken_by INTEGER REFERENCES staff(id),
    taken_at TEXT
);
-- a resident pressing the button again does not make a second request; an open one of an earlier
-- business day is expired (shown as such, never stored: the resident has long gone home)
CREATE UNIQUE INDEX help_requests_one_open ON help_requests (device, business_day) WHERE state = 'open';

CREATE TABLE device_health (
    device TEXT PRIMARY KEY,            -- e.g. kiosk-1-printer, strip-3
    kind TEXT NOT NULL,                 -- printer, id_reader, scanner, led_strip, keypad, rating_pad, audio
    ok INTEGER NOT NULL,
    problems TEXT NOT NULL,             -- JSON list of codes, e.g. ["paper_out"]
    reported_at TEXT NOT NULL,          -- the device's own time
    received_at TEXT NOT NULL
);
