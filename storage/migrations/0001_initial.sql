-- The first schema: programme structure, people, invites, consent, flow state, outbox.
-- Times are UTC text (storage.db.to_db_time); later changes come as new numbered files.

CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value BLOB NOT NULL
);

CREATE TABLE local_authority (
    id   INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE
);

CREATE TABLE school (
    id                 INTEGER PRIMARY KEY,
    ref                TEXT NOT NULL UNIQUE,
    name               TEXT NOT NULL,
    local_authority_id INTEGER NOT NULL REFERENCES local_authority(id),
    phase              TEXT NOT NULL,
    pupils             INTEGER,
    fsm_pct            REAL,
    prior_attainment   REAL
);
CREATE INDEX school_la ON school(local_authority_id);

CREATE TABLE person (
    id            INTEGER PRIMARY KEY,
    ref           TEXT UNIQUE,
    telegram_id   INTEGER UNIQUE,
    display_name  TEXT,
    language      TEXT CHECK (language IN ('en', 'es', 'pt')),
    time_zone     TEXT,
    quiet_start   TEXT NOT NULL DEFAULT '20:00',
    quiet_end     TEXT NOT NULL DEFAULT '07:00',
    reminder_time TEXT NOT NULL DEFAULT '15:45',
    school_id     INTEGER REFERENCES school(id),
    status        TEXT NOT NULL DEFAULT 'joining'
                  CHECK (status IN ('invited', 'joining', 'active', 'blocked', 'erased')),
    onboarded_at  TEXT,
    created_at    TEXT NOT NULL,
    updated_at    TEXT NOT NULL
);
CREATE INDEX person_school ON person(school_id);

CREATE TABLE person_role (
    person_id INTEGER NOT NULL REFERENCES person(id) ON DELETE CASCADE,
    role      TEXT NOT NULL CHECK (role IN ('teacher', 'trio_lead', 'researcher', 'coordinator')),
    PRIMARY KEY (person_id, role)
) WITHOUT ROWID;

CREATE TABLE trio (
    id         INTEGER PRIMARY KEY,
    ref        TEXT NOT NULL UNIQUE,
    kind       TEXT NOT NULL CHECK (kind IN ('schools', 'teachers')),
    name       TEXT NOT NULL,
    created_at TEXT NOT NULL
);

CREATE TABLE trio_school (
    trio_id   INTEGER NOT NULL REFERENCES trio(id) ON DELETE CASCADE,
    school_id INTEGER NOT NULL REFERENCES school(id),
    PRIMARY KEY (trio_id, school_id)
) WITHOUT ROWID;
CREATE INDEX trio_school_school ON trio_school(school_id);

CREATE TABLE trio_member (
    trio_id   INTEGER NOT NULL REFERENCES trio(id) ON DELETE CASCADE,
    person_id INTEGER NOT NULL REFERENCES person(id) ON DELETE CASCADE,
    is_lead   INTEGER NOT NULL DEFAULT 0 CHECK (is_lead IN (0, 1)),
    joined_at TEXT NOT NULL,
    PRIMARY KEY (trio_id, person_id)
) WITHOUT ROWID;
CREATE INDEX trio_member_person ON trio_member(person_id);

CREATE TABLE invite (
    code       TEXT PRIMARY KEY,
    role       TEXT NOT NULL CHECK (role IN ('teacher', 'trio_lead', 'researcher', 'coordinator')),
    school_id  INTEGER REFERENCES school(id),
    trio_id    INTEGER REFERENCES trio(id),
    person_id  INTEGER REFERENCES person(id) ON DELETE CASCADE,
    max_uses   INTEGER NOT NULL DEFAULT 1 CHECK (max_uses >= 1),
    uses       INTEGER NOT NULL DEFAULT 0,
    expires_at TEXT,
    revoked_at TEXT,
    created_at TEXT NOT NULL
);

CREATE TABLE invite_use (
    code      TEXT NOT NULL REFERENCES invite(code),
    person_id INTEGER NOT NULL REFERENCES person(id) ON DELETE CASCADE,
    used_at   TEXT NOT NULL,
    PRIMARY KEY (code, person_id)
) WITHOUT ROWID;

CREATE TABLE consent (
    id          INTEGER PRIMARY KEY,
    person_id   INTEGER NOT NULL REFERENCES person(id) ON DELETE CASCADE,
    given       INTEGER NOT NULL CHECK (given IN (0, 1)),
    version     TEXT NOT NULL,
    recorded_at TEXT NOT NULL
);
CREATE INDEX consent_person ON consent(person_id, id);

CREATE TABLE flow_state (
    id                INTEGER PRIMARY KEY,
    person_id         INTEGER NOT NULL REFERENCES person(id) ON DELETE CASCADE,
    chat_id           INTEGER NOT NULL,
    flow              TEXT NOT NULL,
    step              TEXT NOT NULL,
    answers           TEXT NOT NULL DEFAULT '{}',
    trail             TEXT NOT NULL DEFAULT '[]',
    context           TEXT NOT NULL DEFAULT '{}',
    seq               INTEGER NOT NULL DEFAULT 0,
    status            TEXT NOT NULL DEFAULT 'open'
                      CHECK (status IN ('open', 'done', 'cancelled', 'expired', 'discarded')),
    prompt_message_id INTEGER,
    held_input        TEXT,
    -- Set when a flow expires unseen, so the person is told the next time they write.
    expiry_untold     INTEGER NOT NULL DEFAULT 0,
    started_at        TEXT NOT NULL,
    updated_at        TEXT NOT NULL,
    expires_at        TEXT NOT NULL,
    closed_at         TEXT
);
-- At most one open flow per person and chat: the engine relies on it.
CREATE UNIQUE INDEX flow_state_open ON flow_state(person_id, chat_id) WHERE status = 'open';
CREATE INDEX flow_state_expiry ON flow_state(expires_at) WHERE status = 'open';

CREATE TABLE outbox (
    id                  INTEGER PRIMARY KEY,
    chat_id             INTEGER NOT NULL,
    person_id           INTEGER REFERENCES person(id) ON DELETE CASCADE,
    kind                TEXT NOT NULL,
    payload             TEXT NOT NULL,
    dedupe_key          TEXT UNIQUE,
    status              TEXT NOT NULL DEFAULT 'pending'
                        CHECK (status IN ('pending', 'sending', 'sent', 'failed', 'dropped')),
    attempts            INTEGER NOT NULL DEFAULT 0,
    not_before          TEXT NOT NULL,
    created_at          TEXT NOT NULL,
    sent_at             TEXT,
    last_error          TEXT,
    telegram_message_id INTEGER
);
CREATE INDEX outbox_pending ON outbox(not_before) WHERE status = 'pending';
