-- Erasure that later tables join by themselves. The rules for the tables that exist so far
-- are in storage/personal_data.py (ERASE, EXPORT). A migration that adds a table holding a
-- person's data, or words that may name them, adds its rules here, in the same file as the
-- table, e.g. for agreed trio summaries:
--
--   INSERT INTO erasure_rule (table_name, column_name, how, where_sql, is_json)
--   VALUES ('summary', 'body', 'redact', 'trio_id IN (SELECT trio_id FROM trio_member
--           WHERE person_id = :person_id)', 1);
--   INSERT INTO erasure_rule (table_name, column_name, how)
--   VALUES ('summary_agreement', 'person_id', 'delete');
--   INSERT INTO export_section (name, query) VALUES ('summaries_agreed',
--     'SELECT s.id, a.decision, a.decided_at FROM summary_agreement a JOIN summary s
--      ON s.id = a.summary_id WHERE a.person_id = :person_id');
--
-- tests/test_data_rights.py fails for any table that references person(id) without a rule.

CREATE TABLE erasure_rule (
    id          INTEGER PRIMARY KEY,
    table_name  TEXT NOT NULL,
    column_name TEXT NOT NULL,
    -- delete: rows where column = the key; null: set column to NULL where it equals the key;
    -- redact: the person's name becomes "[erased]" inside the column's text.
    how         TEXT NOT NULL CHECK (how IN ('delete', 'null', 'redact')),
    key         TEXT NOT NULL DEFAULT 'person_id' CHECK (key IN ('person_id', 'telegram_id')),
    -- Instead of `column = :key` (named parameters :person_id, :telegram_id); for redact,
    -- narrows the rows searched.
    where_sql   TEXT,
    is_json     INTEGER NOT NULL DEFAULT 0 CHECK (is_json IN (0, 1)),
    UNIQUE (table_name, column_name, how)
);

-- Sections of a person's download: a SELECT with :person_id; rows become JSON objects.
CREATE TABLE export_section (
    name  TEXT PRIMARY KEY,
    query TEXT NOT NULL
);
