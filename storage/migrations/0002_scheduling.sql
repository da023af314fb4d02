-- Durable scheduling: everything the bot must do later is a row here; the scheduler only
-- wakes the bot. Also the term calendar, "away until", and reflections.

ALTER TABLE person ADD COLUMN away_until TEXT;  -- a local date (YYYY-MM-DD): nothing before it

CREATE TABLE term_day (
    id        INTEGER PRIMARY KEY,
    kind      TEXT NOT NULL CHECK (kind IN ('term', 'closure')),
    starts_on TEXT NOT NULL,  -- local dates, inclusive
    ends_on   TEXT NOT NULL,
    name      TEXT NOT NULL DEFAULT '',
    UNIQUE (kind, starts_on, ends_on)
);

CREATE TABLE schedule (
    id         INTEGER PRIMARY KEY,
    kind       TEXT NOT NULL,
    person_id  INTEGER REFERENCES person(id) ON DELETE CASCADE,
    trio_id    INTEGER REFERENCES trio(id) ON DELETE CASCADE,
    payload    TEXT NOT NULL DEFAULT '{}',
    due_at     TEXT NOT NULL,
    status     TEXT NOT NULL DEFAULT 'pending'
               CHECK (status IN ('pending', 'done', 'dropped', 'cancelled', 'failed')),
    attempts   INTEGER NOT NULL DEFAULT 0,
    -- One row per real-world event (e.g. this person's prompt for this week): a second
    -- insert of the same event is ignored, so nothing is scheduled twice.
    dedupe_key TEXT UNIQUE,
    note       TEXT,
    created_at TEXT NOT NULL,
    fired_at   TEXT
);
CREATE INDEX schedule_due ON schedule(due_at) WHERE status = 'pending';
CREATE INDEX schedule_person ON schedule(person_id, kind, status);

CREATE TABLE reflection (
    id           INTEGER PRIMARY KEY,
    person_id    INTEGER NOT NULL REFERENCES person(id) ON DELETE CASCADE,
    prompt       TEXT NOT NULL,   -- the programme's prompt key, or 'free'
    period       TEXT NOT NULL,   -- e.g. 2026-W48; a timestamp for free reflections
    status       TEXT NOT NULL DEFAULT 'delivered'
                 CHECK (status IN ('due', 'delivered', 'answered', 'skipped')),
    answer       TEXT,            -- JSON: text, or {"voice": file_id, "duration": s}
    delivered_at TEXT,
    answered_at  TEXT,
    nudged_at    TEXT,
    UNIQUE (person_id, prompt, period)
);
CREATE INDEX reflection_prompt ON reflection(prompt, period);
