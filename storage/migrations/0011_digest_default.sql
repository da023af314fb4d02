-- The shared digest is on by default for teachers and trio leads (storage/digests.py
-- `recipients`), so "never chose" must be told apart from "turned it off", which the 0/1
-- digest_opt_in of 0005 could not: both were 0.
--
-- digest_choice: NULL  never chose (the default of their roles applies: on for teachers and
--                      trio leads, off for everyone else);
--                'on'  asked for it in /settings;  'off'  turned it off in /settings.
ALTER TABLE person ADD COLUMN digest_choice TEXT CHECK (digest_choice IN ('on', 'off'));

-- Backfill. digest_opt_in = 1 was always someone's own choice (only /settings set it).
-- A 0 was the default for everyone, but a person who answered "No" in /settings left a
-- finished settings conversation behind (flow_state keeps finished flows with their
-- answers until erasure), so those who turned it off, or said no when offered it, are found
-- there and stay off. Everyone else never chose, and now gets the default.
UPDATE person SET digest_choice = 'on' WHERE digest_opt_in = 1;
UPDATE person SET digest_choice = 'off'
 WHERE digest_opt_in = 0
   AND id IN (SELECT person_id FROM flow_state
               WHERE flow = 'settings' AND status = 'done'
                 AND json_valid(answers) AND json_extract(answers, '$.what') = 'digest');

ALTER TABLE person DROP COLUMN digest_opt_in;

-- The choice is the person's own setting: it is in their download. Erasure sets every
-- person column back to its default (storage/personal_data.py), here NULL.
INSERT INTO export_section (name, query) VALUES ('digest_setting',
    'SELECT digest_choice FROM person WHERE id = :person_id');
