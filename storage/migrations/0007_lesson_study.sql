-- Lesson-study cycles run by a trio of teachers (DOMAIN.md, "Lesson study in a teacher trio"):
-- a focus (how to teach X to Y), up to three case pupils by pseudonym, student voice, a plan
-- with a prediction per case pupil at each key moment, three research lessons with the teacher
-- rotating, observers' notes and interviews per case pupil, a post-lesson discussion after each
-- lesson whose changes carry into the next plan, and a closing account the trio agrees.
--
-- WHAT A DIGEST READS (the digest is built elsewhere; these columns are the contract):
--   * Agreed accounts of practice (shared and researcher digests):
--       lesson_study_account WHERE status = 'agreed' — learned, changed, advice (JSON answers:
--       text, or {"voice": file_id, "duration": s}), agreed_at; join lesson_study on
--       lesson_study_id for trio_id, subject, class_group, focus_what, focus_who.
--       A draft account (status 'draft') is NOT shared: the trio has not agreed it.
--   * Stages (researcher digest): lesson_study.stage and .round for status = 'active', with
--       stage_since (UTC) — student_voice → plan → lesson → observe → discuss (× 3 rounds)
--       → account → agreement; status 'agreed' once the account is agreed.
--   * Stalled cycles (researcher digest, "trios that may need support"):
--       lesson_study.stalled_at IS NOT NULL AND status = 'active'. Set when a cycle sat in one
--       stage longer than TRIOBOT_LESSON_STUDY_STALL_DAYS (the trio is prompted once); cleared
--       as soon as the cycle moves on.
--   * Case pupils are pseudonyms only (lesson_study_pupil.pseudonym); no real name is asked for.
--   Notes (lesson_study_note) are the trio's working material, not for the shared digest.
-- Times are UTC text (storage.db.to_db_time).

CREATE TABLE lesson_study (
    id          INTEGER PRIMARY KEY,
    trio_id     INTEGER NOT NULL REFERENCES trio(id) ON DELETE CASCADE,
    started_by  INTEGER REFERENCES person(id) ON DELETE SET NULL,
    subject     TEXT NOT NULL,
    class_group TEXT NOT NULL,
    focus_what  TEXT NOT NULL,  -- how to teach X …
    focus_who   TEXT NOT NULL,  -- … to Y
    stage       TEXT NOT NULL CHECK (stage IN ('student_voice', 'plan', 'lesson', 'observe',
                'discuss', 'account', 'agreement', 'agreed')),
    round       INTEGER NOT NULL DEFAULT 1 CHECK (round BETWEEN 1 AND 3),
    status      TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'agreed')),
    -- +1 on every change of stage: buttons and scheduled checks carry it, so one made for an
    -- earlier stage is recognised as stale.
    stage_seq   INTEGER NOT NULL DEFAULT 0,
    stage_since TEXT NOT NULL,
    stalled_at  TEXT,
    created_at  TEXT NOT NULL,
    agreed_at   TEXT
);
-- One running cycle per trio.
CREATE UNIQUE INDEX lesson_study_active ON lesson_study(trio_id) WHERE status = 'active';
CREATE INDEX lesson_study_stalled ON lesson_study(stalled_at) WHERE stalled_at IS NOT NULL;

-- The three teachers of a cycle; position is the rotation order (position n teaches round n
-- unless the trio swaps).
CREATE TABLE lesson_study_member (
    lesson_study_id INTEGER NOT NULL REFERENCES lesson_study(id) ON DELETE CASCADE,
    person_id       INTEGER NOT NULL REFERENCES person(id) ON DELETE CASCADE,
    position        INTEGER NOT NULL CHECK (position BETWEEN 1 AND 3),
    PRIMARY KEY (lesson_study_id, person_id),
    UNIQUE (lesson_study_id, position)
);
CREATE INDEX lesson_study_member_person ON lesson_study_member(person_id);

CREATE TABLE lesson_study_pupil (
    id              INTEGER PRIMARY KEY,
    lesson_study_id INTEGER NOT NULL REFERENCES lesson_study(id) ON DELETE CASCADE,
    position        INTEGER NOT NULL CHECK (position BETWEEN 1 AND 3),
    pseudonym       TEXT NOT NULL,
    typical_of      TEXT NOT NULL,  -- the group of learners this pupil stands for
    UNIQUE (lesson_study_id, position)
);

CREATE TABLE research_lesson (
    id              INTEGER PRIMARY KEY,
    lesson_study_id INTEGER NOT NULL REFERENCES lesson_study(id) ON DELETE CASCADE,
    round           INTEGER NOT NULL CHECK (round BETWEEN 1 AND 3),
    teacher_id      INTEGER REFERENCES person(id) ON DELETE SET NULL,
    starts_at       TEXT,
    ends_at         TEXT,
    outline         TEXT,                        -- JSON answer
    moments         TEXT NOT NULL DEFAULT '[]',  -- JSON list of the key moments
    carried_changes TEXT NOT NULL DEFAULT '[]',  -- JSON list: the previous discussion's changes
    discussion      TEXT,                        -- JSON answer
    changes         TEXT,                        -- JSON list: what this discussion changes
    status          TEXT NOT NULL DEFAULT 'planning'
                    CHECK (status IN ('planning', 'scheduled', 'taught', 'discussed')),
    UNIQUE (lesson_study_id, round)
);

-- Predictions, observations, interviews and student voice, per case pupil and key moment.
CREATE TABLE lesson_study_note (
    id              INTEGER PRIMARY KEY,
    lesson_study_id INTEGER NOT NULL REFERENCES lesson_study(id) ON DELETE CASCADE,
    round           INTEGER NOT NULL DEFAULT 0,  -- 0: before the first lesson
    kind            TEXT NOT NULL CHECK (kind IN ('student_voice', 'prediction', 'observation',
                    'interview', 'late')),
    person_id       INTEGER REFERENCES person(id) ON DELETE SET NULL,
    pupil_id        INTEGER REFERENCES lesson_study_pupil(id) ON DELETE CASCADE,
    moment          INTEGER,                     -- index into research_lesson.moments
    body            TEXT NOT NULL,               -- JSON answer
    created_at      TEXT NOT NULL
);
CREATE INDEX lesson_study_note_round ON lesson_study_note(lesson_study_id, round, kind);
CREATE INDEX lesson_study_note_person ON lesson_study_note(person_id);

-- Who has done their part of a round ('observe', 'interview'): the stage moves on when every
-- observer has.
CREATE TABLE lesson_study_task (
    lesson_study_id INTEGER NOT NULL REFERENCES lesson_study(id) ON DELETE CASCADE,
    round           INTEGER NOT NULL,
    task            TEXT NOT NULL CHECK (task IN ('observe', 'interview')),
    person_id       INTEGER NOT NULL REFERENCES person(id) ON DELETE CASCADE,
    done_at         TEXT NOT NULL,
    PRIMARY KEY (lesson_study_id, round, task, person_id)
);
CREATE INDEX lesson_study_task_person ON lesson_study_task(person_id);

CREATE TABLE lesson_study_account (
    id              INTEGER PRIMARY KEY,
    lesson_study_id INTEGER NOT NULL UNIQUE REFERENCES lesson_study(id) ON DELETE CASCADE,
    author_id       INTEGER REFERENCES person(id) ON DELETE SET NULL,
    learned         TEXT NOT NULL,  -- JSON answers
    changed         TEXT NOT NULL,
    advice          TEXT NOT NULL,
    revision        INTEGER NOT NULL DEFAULT 1,
    status          TEXT NOT NULL DEFAULT 'draft' CHECK (status IN ('draft', 'agreed')),
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL,
    agreed_at       TEXT
);
CREATE INDEX lesson_study_account_author ON lesson_study_account(author_id);

-- Each member's decision on one revision of the account; a new revision starts afresh.
CREATE TABLE lesson_study_approval (
    account_id INTEGER NOT NULL REFERENCES lesson_study_account(id) ON DELETE CASCADE,
    person_id  INTEGER NOT NULL REFERENCES person(id) ON DELETE CASCADE,
    revision   INTEGER NOT NULL,
    decision   TEXT NOT NULL CHECK (decision IN ('approved', 'suggested')),
    suggestion TEXT,  -- JSON answer
    decided_at TEXT NOT NULL,
    PRIMARY KEY (account_id, person_id, revision)
);
CREATE INDEX lesson_study_approval_person ON lesson_study_approval(person_id);
