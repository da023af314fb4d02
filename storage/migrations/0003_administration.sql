-- Programme administration: who made an invite, erasure on request, the coordinator's view.

-- Who created an invite in the bot (NULL for the command line). Erasure nulls it.
ALTER TABLE invite ADD COLUMN created_by INTEGER REFERENCES person(id) ON DELETE SET NULL;
CREATE INDEX invite_person ON invite(person_id) WHERE person_id IS NOT NULL;

-- When a person was erased on request; the row stays (so counts add up) with nothing personal.
ALTER TABLE person ADD COLUMN erased_at TEXT;

-- Keyed hashes (HMAC with a key kept in meta) of the roster references of erased people, so
-- re-importing an old roster cannot bring them back. Neither the reference nor the name is kept.
CREATE TABLE erased_ref (
    ref_hash  TEXT PRIMARY KEY,
    erased_at TEXT NOT NULL
) WITHOUT ROWID;

-- "Trios gone quiet" reads each member's latest flow activity.
CREATE INDEX flow_state_person_updated ON flow_state(person_id, updated_at);
