-- Weekly digests: who wants the shared one, and an archive of every week compiled, so that
-- building a past week again gives the same digest (see storage/digests.py).

-- The shared digest is sent only to participants who asked for it (/settings).
ALTER TABLE person ADD COLUMN digest_opt_in INTEGER NOT NULL DEFAULT 0
    CHECK (digest_opt_in IN (0, 1));

-- One row per compiled ISO week (programme time zone). `figures` holds the non-personal
-- tables as JSON: participation by trio and by local authority (with the trend weeks),
-- drafts awaiting agreement, trios gone quiet, stalled cycles, action statuses.
CREATE TABLE digest (
    id       INTEGER PRIMARY KEY,
    week     TEXT NOT NULL UNIQUE,
    built_at TEXT NOT NULL,
    figures  TEXT NOT NULL
);

-- The week's contributions in long format, as compiled. Rendering filters them again by
-- current consent, so a withdrawal also reaches archived weeks; erasure deletes the rows.
CREATE TABLE digest_contribution (
    digest_id       INTEGER NOT NULL REFERENCES digest(id) ON DELETE CASCADE,
    seq             INTEGER NOT NULL,
    person_id       INTEGER REFERENCES person(id) ON DELETE CASCADE,
    role            TEXT NOT NULL,
    school          TEXT,
    local_authority TEXT,
    trio            TEXT,
    trio_name       TEXT,
    date            TEXT NOT NULL,
    kind            TEXT NOT NULL,
    tags            TEXT NOT NULL DEFAULT '',
    text            TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (digest_id, seq)
) WITHOUT ROWID;
CREATE INDEX digest_contribution_person ON digest_contribution(person_id);

-- A built digest file (HTML, per audience and language) that the outbox sends as a document:
-- stored once, not once per recipient; Telegram's file id is kept after the first upload.
CREATE TABLE digest_file (
    id               INTEGER PRIMARY KEY,
    digest_id        INTEGER NOT NULL REFERENCES digest(id) ON DELETE CASCADE,
    audience         TEXT NOT NULL CHECK (audience IN ('schools', 'researchers')),
    language         TEXT NOT NULL,
    filename         TEXT NOT NULL,
    content          BLOB NOT NULL,
    telegram_file_id TEXT,
    UNIQUE (digest_id, audience, language)
);
