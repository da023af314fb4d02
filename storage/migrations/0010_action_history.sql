-- Each change of an action's status, with when and who: the research exports' action_history
-- table (storage/research_exports.py) reads it; `action.status` stays the current status.
--
--   action_event.status      the status the action moved to: open | in_progress | done | dropped
--   action_event.changed_by  who changed it (NULL: not known, or erased)
--   action_event.changed_at  when (UTC text, storage.db.to_db_time)
--   action_event.how         created  — the action was written into a summary (status open)
--                            marked   — its owner or the trio's lead marked it (the due reminder)
--                            reviewed — the next summary's author said how it went
--                            backfill — recorded by this migration for an action that existed
--                                       before: its status then, at its updated_at (the last
--                                       change of any kind, so the time is approximate)
-- Written by storage/summaries.py (SummaryRepo.add_action, SummaryRepo.set_action_status).

CREATE TABLE action_event (
    id         INTEGER PRIMARY KEY,
    action_id  INTEGER NOT NULL REFERENCES action(id) ON DELETE CASCADE,
    status     TEXT NOT NULL CHECK (status IN ('open', 'in_progress', 'done', 'dropped')),
    changed_by INTEGER REFERENCES person(id) ON DELETE SET NULL,
    changed_at TEXT NOT NULL,
    how        TEXT NOT NULL CHECK (how IN ('created', 'marked', 'reviewed', 'backfill'))
);
CREATE INDEX action_event_action ON action_event(action_id, changed_at);
CREATE INDEX action_event_person ON action_event(changed_by) WHERE changed_by IS NOT NULL;
-- A summary's actions (the exports, the digest's summary items): without it each agreed summary
-- scanned every action, 6 s for a year of a 366-trio programme. Migration 0009 (attribution)
-- creates the same index; IF NOT EXISTS keeps this one for a database that has it already.
CREATE INDEX IF NOT EXISTS action_summary ON action(summary_id, position);

-- Every action starts open (action.status defaults to it and nothing writes another status on
-- insert), so its creation is known exactly; a later status is known only as it stands now.
INSERT INTO action_event (action_id, status, changed_by, changed_at, how)
SELECT x.id, 'open', s.author_id, x.created_at, 'created'
FROM action x JOIN summary s ON s.id = x.summary_id;
INSERT INTO action_event (action_id, status, changed_by, changed_at, how)
SELECT id, status, NULL, updated_at, 'backfill' FROM action WHERE status != 'open';

-- Erasure keeps the history (the trio's record) without who made each change.
INSERT INTO erasure_rule (table_name, column_name, how)
VALUES ('action_event', 'changed_by', 'null');
INSERT INTO export_section (name, query) VALUES ('action_status_changes',
    'SELECT e.action_id, e.status, e.how, e.changed_at FROM action_event e
     WHERE e.changed_by = :person_id ORDER BY e.changed_at, e.id');
