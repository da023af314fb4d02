-- The partnership loop: the trios' questions for the researchers, the researchers' answers,
-- and their critical-friend comments on agreed work (README "The partnership loop").
--
--   research_question   one question a trio agreed: from an agreed summary (summary_item of
--                       kind 'question', copied when the summary is agreed) or from an agreed
--                       lesson-study account (lesson_study_account.questions, copied likewise).
--     .body             JSON answer: a string, or {"voice": file_id, "duration": s}
--     .asked_by         the summary's or account's author: the teacher whose research consent
--                       governs the question's words in research outputs
--     .asked_at         when the trio agreed it (UTC text): a question's age counts from here
--     .status           open     — no researcher has answered it yet (/questions lists these)
--                       answered — at least one answer was sent
--     .routed_to        the researcher it was passed to with "Not for me" (NULL: anyone of the
--                       programme's researchers and coordinators may take it)
--   question_pass       who said "Not for me" to a question: it is not offered to them again
--   research_reply      what a researcher or coordinator sent a trio
--     .kind             answer  — to research_question .question_id
--                       comment — on an agreed summary (.summary_id) or account (.account_id);
--                                 a comment never changes the agreed text
--     .body             JSON answer, as above (a voice note keeps its Telegram file id)
--     .shareable        answers only: the researcher let the question and its answer appear in
--                       the shared digest (it also needs the question to be the trio's agreed one)
--     .sent_at          when it was sent (UTC text); days to an answer = sent_at − asked_at
--     .discussed_at     when the trio marked it "discussed" (at the start of its next summary);
--     .discussed_by       who marked it, and in which summary
--     .discussed_in
-- Written and read only by storage/questions.py.

-- An account's questions for the researchers, as the account flow collects them: a JSON list
-- of answers, like learned/changed/advice. Copied into research_question when it is agreed.
ALTER TABLE lesson_study_account ADD COLUMN questions TEXT NOT NULL DEFAULT '[]';

CREATE TABLE research_question (
    id              INTEGER PRIMARY KEY,
    trio_id         INTEGER NOT NULL REFERENCES trio(id) ON DELETE CASCADE,
    summary_id      INTEGER REFERENCES summary(id) ON DELETE CASCADE,
    summary_item_id INTEGER UNIQUE REFERENCES summary_item(id) ON DELETE CASCADE,
    account_id      INTEGER REFERENCES lesson_study_account(id) ON DELETE CASCADE,
    position        INTEGER NOT NULL DEFAULT 0,
    body            TEXT NOT NULL,
    asked_by        INTEGER REFERENCES person(id) ON DELETE SET NULL,
    asked_at        TEXT NOT NULL,
    status          TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'answered')),
    routed_to       INTEGER REFERENCES person(id) ON DELETE SET NULL,
    CHECK ((summary_id IS NULL) != (account_id IS NULL)),
    CHECK ((summary_id IS NULL) = (summary_item_id IS NULL)),
    UNIQUE (account_id, position)
);
CREATE INDEX research_question_open ON research_question(asked_at) WHERE status = 'open';
CREATE INDEX research_question_trio ON research_question(trio_id, asked_at);
CREATE INDEX research_question_asker ON research_question(asked_by) WHERE asked_by IS NOT NULL;
CREATE INDEX research_question_routed ON research_question(routed_to) WHERE routed_to IS NOT NULL;

CREATE TABLE question_pass (
    question_id INTEGER NOT NULL REFERENCES research_question(id) ON DELETE CASCADE,
    person_id   INTEGER NOT NULL REFERENCES person(id) ON DELETE CASCADE,
    passed_at   TEXT NOT NULL,
    PRIMARY KEY (question_id, person_id)
);
CREATE INDEX question_pass_person ON question_pass(person_id);

CREATE TABLE research_reply (
    id           INTEGER PRIMARY KEY,
    kind         TEXT NOT NULL CHECK (kind IN ('answer', 'comment')),
    trio_id      INTEGER NOT NULL REFERENCES trio(id) ON DELETE CASCADE,
    question_id  INTEGER REFERENCES research_question(id) ON DELETE CASCADE,
    summary_id   INTEGER REFERENCES summary(id) ON DELETE CASCADE,
    account_id   INTEGER REFERENCES lesson_study_account(id) ON DELETE CASCADE,
    author_id    INTEGER REFERENCES person(id) ON DELETE SET NULL,
    body         TEXT NOT NULL,
    shareable    INTEGER NOT NULL DEFAULT 0 CHECK (shareable IN (0, 1)),
    sent_at      TEXT NOT NULL,
    discussed_at TEXT,
    discussed_by INTEGER REFERENCES person(id) ON DELETE SET NULL,
    discussed_in INTEGER REFERENCES summary(id) ON DELETE SET NULL,
    CHECK ((kind = 'answer') = (question_id IS NOT NULL)),
    CHECK (kind = 'answer' OR (summary_id IS NULL) != (account_id IS NULL)),
    CHECK (kind = 'comment' OR shareable = 0 OR question_id IS NOT NULL)
);
CREATE INDEX research_reply_trio ON research_reply(trio_id, sent_at);
CREATE INDEX research_reply_question ON research_reply(question_id) WHERE question_id IS NOT NULL;
CREATE INDEX research_reply_author ON research_reply(author_id) WHERE author_id IS NOT NULL;
CREATE INDEX research_reply_undiscussed ON research_reply(trio_id) WHERE discussed_at IS NULL;
CREATE INDEX research_reply_discussed_by ON research_reply(discussed_by)
    WHERE discussed_by IS NOT NULL;

-- The questions of summaries agreed before this migration, so /questions starts with them.
INSERT INTO research_question
    (trio_id, summary_id, summary_item_id, position, body, asked_by, asked_at)
SELECT s.trio_id, s.id, i.id, i.position, i.body, s.author_id, s.agreed_at
FROM summary_item i JOIN summary s ON s.id = i.summary_id
WHERE i.kind = 'question' AND s.status = 'agreed' AND s.agreed_at IS NOT NULL;

-- Erasure. A question is the trio's agreed work, like the summary it came from: it stays,
-- with the asker's name redacted inside it and no asker. A researcher's answers and comments
-- are their own words: erasing them deletes them. Who marked a reply discussed is forgotten.
INSERT INTO erasure_rule (table_name, column_name, how)
VALUES ('research_question', 'asked_by', 'null');
INSERT INTO erasure_rule (table_name, column_name, how, where_sql, is_json)
VALUES ('research_question', 'body', 'redact',
        'trio_id IN (SELECT trio_id FROM trio_member WHERE person_id = :person_id)
         OR account_id IN (SELECT a.id FROM lesson_study_account a JOIN lesson_study_member m
         ON m.lesson_study_id = a.lesson_study_id WHERE m.person_id = :person_id)', 1);
-- A researcher's words to a trio may name its members.
INSERT INTO erasure_rule (table_name, column_name, how, where_sql, is_json)
VALUES ('research_reply', 'body', 'redact',
        'trio_id IN (SELECT trio_id FROM trio_member WHERE person_id = :person_id)', 1);
INSERT INTO erasure_rule (table_name, column_name, how)
VALUES ('research_question', 'routed_to', 'null');
INSERT INTO erasure_rule (table_name, column_name, how)
VALUES ('question_pass', 'person_id', 'delete');
INSERT INTO erasure_rule (table_name, column_name, how)
VALUES ('research_reply', 'author_id', 'delete');
INSERT INTO erasure_rule (table_name, column_name, how)
VALUES ('research_reply', 'discussed_by', 'null');
INSERT INTO erasure_rule (table_name, column_name, how, where_sql, is_json)
VALUES ('lesson_study_account', 'questions', 'redact',
        'lesson_study_id IN (SELECT lesson_study_id FROM lesson_study_member
         WHERE person_id = :person_id)', 1);

INSERT INTO export_section (name, query) VALUES ('questions_asked',
    'SELECT q.id, q.body, q.asked_at, q.status FROM research_question q
     WHERE q.asked_by = :person_id ORDER BY q.asked_at, q.id');
INSERT INTO export_section (name, query) VALUES ('research_replies_written',
    'SELECT r.id, r.kind, r.body, r.shareable, r.sent_at FROM research_reply r
     WHERE r.author_id = :person_id ORDER BY r.sent_at, r.id');
INSERT INTO export_section (name, query) VALUES ('research_replies_marked_discussed',
    'SELECT r.id, r.discussed_at FROM research_reply r
     WHERE r.discussed_by = :person_id ORDER BY r.discussed_at, r.id');
