-- Schedule rows claimed before they fire, as outbox rows are (0008), and the send budget of
-- several workers. Who claimed a row and until when (real time): on SQLite one process fires
-- the schedule under the write lock and never claims; on PostgreSQL several workers may tick,
-- and a worker that died holding a claim loses it when it expires (storage/schedule.py).
ALTER TABLE schedule ADD COLUMN claimed_by TEXT;
ALTER TABLE schedule ADD COLUMN claim_expires_at TEXT;

-- Telegram's send budget shared by several workers (PostgreSQL's 0016: its `send_room`
-- function takes room in it). One SQLite process keeps its budget in memory: the table
-- stays empty here, and exists so both stores have the same tables.
CREATE TABLE send_budget (
    name TEXT PRIMARY KEY,
    free_at REAL NOT NULL
);
