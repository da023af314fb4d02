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

-- Weeks already archived (storage/digests.py) are rebuilt from their stored rows, which name
-- the author's school. Each summary row there (its tags say `summary=N`) is re-filed under the
-- school of the item or action it came from, found by summary, kind and text, when every
-- match belongs to one school; a row that matches nothing (edited since) keeps what it had.
-- Archived action rows keep their tags (`summary=N`); weeks compiled from now on carry the
-- owner, due date and status as well.
CREATE INDEX action_summary ON action(summary_id, position);  -- also SummaryRepo.actions

CREATE TEMP TABLE matched (digest_id INTEGER, seq INTEGER, school_id INTEGER);
INSERT INTO matched
SELECT dc.digest_id, dc.seq, i.school_id
FROM digest_contribution dc
JOIN summary_item i ON i.summary_id = CAST(substr(dc.tags, instr(dc.tags, 'summary=') + 8) AS INTEGER)
 AND i.kind = dc.kind
WHERE dc.kind IN ('shared', 'evidence', 'barrier', 'question', 'other')
  AND instr(dc.tags, 'summary=') > 0
  AND dc.text = CASE WHEN NOT json_valid(i.body) THEN i.body
                     WHEN json_type(i.body) = 'text' THEN json_extract(i.body, '$') ELSE '' END;
INSERT INTO matched
SELECT dc.digest_id, dc.seq, x.school_id
FROM digest_contribution dc
JOIN action x ON x.summary_id = CAST(substr(dc.tags, instr(dc.tags, 'summary=') + 8) AS INTEGER)
WHERE dc.kind = 'action' AND instr(dc.tags, 'summary=') > 0
  AND dc.text = CASE WHEN NOT json_valid(x.what) THEN x.what
                     WHEN json_type(x.what) = 'text' THEN json_extract(x.what, '$') ELSE '' END;

CREATE TEMP TABLE refiled AS
SELECT m.digest_id, m.seq, MIN(sc.ref) AS school, MIN(COALESCE(la.name, '')) AS la
FROM matched m
JOIN school sc ON sc.id = m.school_id
LEFT JOIN local_authority la ON la.id = sc.local_authority_id
GROUP BY m.digest_id, m.seq
HAVING COUNT(DISTINCT sc.id) = 1;
CREATE UNIQUE INDEX refiled_key ON refiled(digest_id, seq);

UPDATE digest_contribution SET
    school = (SELECT r.school FROM refiled r
              WHERE r.digest_id = digest_contribution.digest_id AND r.seq = digest_contribution.seq),
    local_authority = (SELECT r.la FROM refiled r
              WHERE r.digest_id = digest_contribution.digest_id AND r.seq = digest_contribution.seq)
WHERE EXISTS (SELECT 1 FROM refiled r
              WHERE r.digest_id = digest_contribution.digest_id AND r.seq = digest_contribution.seq);

DROP TABLE refiled;
DROP TABLE matched;
