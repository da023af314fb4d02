-- Trio meetings, their summaries, the trio's agreement, and the actions that follow.
--
-- FOR THE DIGEST (read-only; nothing else in these tables is a contract):
--   summary.status       'draft'  — circulated, awaiting agreement (researcher digest lists these)
--                        'agreed' — the trio agreed it: the ONLY rows the shared digest may show
--                        (a summary still being written has no row here yet)
--   summary.agreed_at    when it became agreed (UTC); select a week's summaries by this
--   summary.agreed_how   'all' (every member approved) or 'lead' (lead confirmed after the deadline)
--   summary.focus        the meeting's focus as the trio wrote it (text, or JSON for a voice note)
--   summary_item         kind: shared (school_id says whose) | evidence | barrier | question | other
--                        level: within | between | beyond, for barriers only (the ecology of equity)
--                        body: JSON — a string, or {"voice": file_id, "duration": s}
--   action               what/owner_id (NULL = the whole trio)/due_on (local date)/status
--   meeting              status scheduled | held | cancelled; starts_at (UTC); trio_id
--                        "meetings held vs scheduled": held / (held + scheduled in the past)
--   meeting_attendance   attended 0/1 per member of a held meeting
--   meeting_reflection   each attendee's private reflection (not for the shared digest)
-- Times are UTC text (storage.db.to_db_time); dates (due_on) are local calendar dates.

CREATE TABLE meeting (
    id               INTEGER PRIMARY KEY,
    trio_id          INTEGER NOT NULL REFERENCES trio(id) ON DELETE CASCADE,
    starts_at        TEXT NOT NULL,
    duration_minutes INTEGER NOT NULL DEFAULT 60 CHECK (duration_minutes > 0),
    time_zone        TEXT NOT NULL,          -- the lead's zone when it was scheduled
    link             TEXT,
    focus            TEXT NOT NULL,
    status           TEXT NOT NULL DEFAULT 'scheduled'
                     CHECK (status IN ('scheduled', 'held', 'cancelled')),
    -- Bumped on every move: reminders carry the version they were armed for, and a reminder
    -- for an older version never fires.
    version          INTEGER NOT NULL DEFAULT 1,
    -- The member the lead named to write the summary (NULL: the lead does).
    summary_runner_id INTEGER REFERENCES person(id) ON DELETE SET NULL,
    created_by       INTEGER REFERENCES person(id) ON DELETE SET NULL,
    created_at       TEXT NOT NULL,
    updated_at       TEXT NOT NULL
);
CREATE INDEX meeting_trio ON meeting(trio_id, starts_at);

CREATE TABLE meeting_attendance (
    meeting_id  INTEGER NOT NULL REFERENCES meeting(id) ON DELETE CASCADE,
    person_id   INTEGER NOT NULL REFERENCES person(id) ON DELETE CASCADE,
    attended    INTEGER NOT NULL CHECK (attended IN (0, 1)),
    recorded_at TEXT NOT NULL,
    PRIMARY KEY (meeting_id, person_id)
) WITHOUT ROWID;

CREATE TABLE meeting_reflection (
    meeting_id  INTEGER NOT NULL REFERENCES meeting(id) ON DELETE CASCADE,
    person_id   INTEGER NOT NULL REFERENCES person(id) ON DELETE CASCADE,
    take_back   TEXT,                        -- JSON answers, as in summary_item.body
    surprise    TEXT,
    answered_at TEXT NOT NULL,
    PRIMARY KEY (meeting_id, person_id)
) WITHOUT ROWID;

CREATE TABLE summary (
    id           INTEGER PRIMARY KEY,
    meeting_id   INTEGER NOT NULL UNIQUE REFERENCES meeting(id) ON DELETE CASCADE,
    trio_id      INTEGER NOT NULL REFERENCES trio(id) ON DELETE CASCADE,
    author_id    INTEGER REFERENCES person(id) ON DELETE SET NULL,
    status       TEXT NOT NULL DEFAULT 'draft' CHECK (status IN ('draft', 'agreed')),
    focus        TEXT NOT NULL,
    no_actions   INTEGER NOT NULL DEFAULT 0 CHECK (no_actions IN (0, 1)),
    -- Each edit re-circulates a new revision; approvals count for one revision only.
    revision     INTEGER NOT NULL DEFAULT 1,
    circulated_at TEXT NOT NULL,
    agree_by     TEXT NOT NULL,             -- after this the lead may confirm with approvals so far
    agreed_at    TEXT,
    agreed_how   TEXT CHECK (agreed_how IN ('all', 'lead')),
    created_at   TEXT NOT NULL,
    updated_at   TEXT NOT NULL
);
CREATE INDEX summary_status ON summary(status, agreed_at);
CREATE INDEX summary_trio ON summary(trio_id);

CREATE TABLE summary_item (
    id         INTEGER PRIMARY KEY,
    summary_id INTEGER NOT NULL REFERENCES summary(id) ON DELETE CASCADE,
    kind       TEXT NOT NULL CHECK (kind IN ('shared', 'evidence', 'barrier', 'question', 'other')),
    school_id  INTEGER REFERENCES school(id),
    level      TEXT CHECK (level IN ('within', 'between', 'beyond')),
    body       TEXT NOT NULL,
    position   INTEGER NOT NULL DEFAULT 0,
    CHECK ((kind = 'barrier') = (level IS NOT NULL))
);
CREATE INDEX summary_item_summary ON summary_item(summary_id, kind, position);

CREATE TABLE summary_approval (
    summary_id INTEGER NOT NULL REFERENCES summary(id) ON DELETE CASCADE,
    person_id  INTEGER NOT NULL REFERENCES person(id) ON DELETE CASCADE,
    revision   INTEGER NOT NULL,
    decision   TEXT NOT NULL CHECK (decision IN ('approved', 'suggested')),
    comment    TEXT,                        -- JSON, for a suggestion
    decided_at TEXT NOT NULL,
    PRIMARY KEY (summary_id, person_id, revision)
);  -- a rowid table: erasure redacts names inside other people's comments by rowid

CREATE TABLE action (
    id         INTEGER PRIMARY KEY,
    trio_id    INTEGER NOT NULL REFERENCES trio(id) ON DELETE CASCADE,
    summary_id INTEGER NOT NULL REFERENCES summary(id) ON DELETE CASCADE,
    what       TEXT NOT NULL,               -- JSON, as summary_item.body
    owner_id   INTEGER REFERENCES person(id) ON DELETE SET NULL,
    due_on     TEXT NOT NULL,
    status     TEXT NOT NULL DEFAULT 'open'
               CHECK (status IN ('open', 'in_progress', 'done', 'dropped')),
    position   INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX action_trio ON action(trio_id, status);
CREATE INDEX action_owner ON action(owner_id) WHERE owner_id IS NOT NULL;

-- A trio's Telegram group (linked by the lead with /link in the group).
CREATE TABLE trio_chat (
    trio_id   INTEGER PRIMARY KEY REFERENCES trio(id) ON DELETE CASCADE,
    chat_id   INTEGER NOT NULL UNIQUE,
    language  TEXT NOT NULL DEFAULT 'en',
    linked_by INTEGER REFERENCES person(id) ON DELETE SET NULL,
    linked_at TEXT NOT NULL
);
