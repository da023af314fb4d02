"""The digest sources' statements that each store has its own way of: both give the same
rows (storage/digest_sources.py reads them; the golden check compares the outputs)."""

# The answer is JSON: text, a list of choices, or a voice note {"voice", "duration"}, whose
# words are not here (only its length) and whose file id is never read. SQLite reads it with
# its JSON functions; PostgreSQL parses it once per row (jsonb), where the same functions
# (the baseline's, each parsing it again) took five times as long over a year.
REFLECTIONS_SQLITE = (
    "SELECT person_id, answered_at,"
    " CASE json_type(answer) WHEN 'text' THEN json_extract(answer, '$')"
    "  WHEN 'array' THEN (SELECT group_concat(value, '; ') FROM json_each(answer))"
    "  WHEN 'object' THEN ''"
    "  ELSE COALESCE(CAST(json_extract(answer, '$') AS TEXT), '') END,"
    " 'prompt=' || prompt || CASE WHEN json_type(answer, '$.voice') IS NOT NULL"
    "  THEN ';voice=' || CAST(COALESCE(json_extract(answer, '$.duration'), 0) AS INTEGER)"
    "  ELSE '' END"
    " FROM reflection WHERE status = 'answered' AND answered_at >= ? AND answered_at < ?"
    " ORDER BY answered_at, id"
)
REFLECTIONS_POSTGRESQL = (
    "SELECT person_id, answered_at,"
    " CASE jsonb_typeof(j) WHEN 'string' THEN j #>> '{}'"
    "  WHEN 'array' THEN (SELECT string_agg(CASE jsonb_typeof(e) WHEN 'string'"
    "   THEN e #>> '{}' ELSE e::text END, '; ') FROM jsonb_array_elements(j) e)"
    "  WHEN 'object' THEN '' WHEN 'null' THEN ''"
    "  WHEN 'boolean' THEN CASE WHEN j = 'true' THEN '1' ELSE '0' END"
    "  ELSE j::text END,"
    " 'prompt=' || prompt || CASE WHEN j -> 'voice' IS NOT NULL"
    "  THEN ';voice=' || COALESCE(CAST(j ->> 'duration' AS INTEGER), 0) ELSE '' END"
    " FROM reflection CROSS JOIN LATERAL (SELECT CAST(answer AS JSONB) AS j) AS parsed"
    " WHERE status = 'answered' AND answered_at >= ? AND answered_at < ?"
    " ORDER BY answered_at, id"
)

# The weeks [[week, low, high], …] and the groups {person_id: place} as tables w and g.
# SQLite's CROSS JOIN keeps the join order: each week one range of the index, then who each
# one is. PostgreSQL plans its own order, without row counts for w and g: it is given the
# whole span as one range of the same index (its bounds as instants, timestamptz), and sorts
# the rows into weeks after.
DELIVERIES_SQLITE = (
    "WITH w AS MATERIALIZED (SELECT json_extract(value, '$[0]') AS week,"
    "  json_extract(value, '$[1]') AS low, json_extract(value, '$[2]') AS high"
    "  FROM json_each(:weeks)),"
    " g AS MATERIALIZED (SELECT CAST(key AS INTEGER) AS person_id, value AS place"
    "  FROM json_each(:groups))"
    " SELECT w.week, g.place, COUNT(*), SUM(r.status = 'answered' AND r.answered_at < :end)"
    " FROM w CROSS JOIN reflection r ON r.delivered_at >= w.low AND r.delivered_at < w.high"
    " CROSS JOIN g ON g.person_id = r.person_id"
    " WHERE r.prompt != 'free' GROUP BY w.week, g.place ORDER BY w.week, g.place"
)
DELIVERIES_POSTGRESQL = (
    "WITH w AS MATERIALIZED (SELECT e ->> 0 AS week, CAST(e ->> 1 AS TIMESTAMPTZ) AS low,"
    "  CAST(e ->> 2 AS TIMESTAMPTZ) AS high FROM jsonb_array_elements(CAST(:weeks AS JSONB)) e),"
    " g AS MATERIALIZED (SELECT CAST(key AS BIGINT) AS person_id, CAST(value AS INTEGER) AS place"
    "  FROM jsonb_each_text(CAST(:groups AS JSONB)))"
    " SELECT w.week, g.place, COUNT(*),"
    "  SUM(CASE WHEN r.status = 'answered' AND r.answered_at < :end THEN 1 ELSE 0 END)"
    " FROM reflection r JOIN g ON g.person_id = r.person_id"
    " JOIN w ON r.delivered_at >= w.low AND r.delivered_at < w.high"
    " WHERE r.delivered_at >= (SELECT MIN(low) FROM w)"
    " AND r.delivered_at < (SELECT MAX(high) FROM w) AND r.prompt != 'free'"
    " GROUP BY w.week, g.place ORDER BY w.week, g.place"
)
