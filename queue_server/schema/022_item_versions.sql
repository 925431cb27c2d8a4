-- 022: every version of a service item's guide (办事指南) a manager saved in the browser or imported
-- (queue_server/domain/guides.py, docs/consoles.md "Guides"). items holds the current version; each
-- row here is one whole version, so any two can be compared and an old one read as it was shown.
-- Version 1 of an item is what it was before its first edit (from the services file), kept then.

CREATE TABLE item_versions (
    code TEXT NOT NULL,                 -- items.code
    version INTEGER NOT NULL,           -- 1, 2, 3... per item
    at TEXT NOT NULL,
    actor TEXT NOT NULL,                -- as in the journal: staff:1001, system
    source TEXT NOT NULL,               -- file (before the first edit), console (the guide page), import (TOML)
    business TEXT NOT NULL,
    name TEXT NOT NULL,                 -- JSON, as items.name
    guide TEXT NOT NULL,                -- JSON, as items.guide
    active INTEGER NOT NULL,
    changed TEXT NOT NULL DEFAULT '[]', -- JSON: the keys that differ from the version before
    PRIMARY KEY (code, version)
);
