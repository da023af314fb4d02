-- Attribution: every practice, barrier and action records the school it belongs to.
--
--   summary_item.school_id  (there since 0004; until now only a school's shared practice set
--                            it) — a barrier: the school chosen in the summary flow; evidence,
--                            questions and anything else: the summary author's school
--   action.school_id        (new) the owner's school; for the whole trio, the author's
--
-- Digests and exports attribute each row to this school and its local authority, not to the
-- writer's (storage/digest_sources_trio_work.py). Existing rows are filled in as well as the
-- data allows, from what the tables hold now (README, "Attribution"):
--   * a shared practice without a school: the summary flow asked one per school of the trio,
--     in school reference order, and stored the answered ones in that order; when none of a
--     summary's shared items has a school and there are as many as its trio has schools, the
--     n-th item is the n-th school's. Otherwise (a school was skipped) which school said what
--     cannot be known: left NULL (digests then fall back to the author's school).
--   * every other item: the author's school as it is now; NULL when the author was erased.
--   * an action: its owner's school; for the whole trio (or an erased owner), the author's.
ALTER TABLE action ADD COLUMN school_id INTEGER REFERENCES school(id) ON DELETE SET NULL;

UPDATE summary_item SET school_id = (
    SELECT ts.school_id
    FROM summary su
    JOIN trio_school ts ON ts.trio_id = su.trio_id
    JOIN school s ON s.id = ts.school_id
    WHERE su.id = summary_item.summary_id
      AND (SELECT COUNT(*) FROM trio_school ts2 JOIN school s2 ON s2.id = ts2.school_id
           WHERE ts2.trio_id = su.trio_id AND s2.ref <= s.ref)
        = (SELECT COUNT(*) FROM summary_item j
           WHERE j.summary_id = summary_item.summary_id AND j.kind = 'shared'
             AND (j.position < summary_item.position
                  OR (j.position = summary_item.position AND j.id <= summary_item.id)))
)
WHERE kind = 'shared' AND school_id IS NULL
  AND NOT EXISTS (SELECT 1 FROM summary_item j WHERE j.summary_id = summary_item.summary_id
                  AND j.kind = 'shared' AND j.school_id IS NOT NULL)
  AND (SELECT COUNT(*) FROM summary_item j
       WHERE j.summary_id = summary_item.summary_id AND j.kind = 'shared')
    = (SELECT COUNT(*) FROM summary su JOIN trio_school ts ON ts.trio_id = su.trio_id
       WHERE su.id = summary_item.summary_id);

UPDATE summary_item SET school_id = (
    SELECT p.school_id FROM summary su JOIN person p ON p.id = su.author_id
    WHERE su.id = summary_item.summary_id
)
WHERE kind != 'shared' AND school_id IS NULL;

UPDATE action SET school_id = COALESCE(
    (SELECT p.school_id FROM person p WHERE p.id = action.owner_id),
    (SELECT p.school_id FROM summary su JOIN person p ON p.id = su.author_id
     WHERE su.id = action.summary_id)
);
