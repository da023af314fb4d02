-- Several workers on one database (README "Scaling out").
--
-- Schedule rows are claimed before they fire, as outbox rows are: who claimed them and until
-- when (real time). A worker that died holding a claim loses it when it expires, and another
-- worker fires the row (storage/schedule.py `claim_due`).
ALTER TABLE schedule ADD COLUMN claimed_by TEXT;
ALTER TABLE schedule ADD COLUMN claim_expires_at TIMESTAMPTZ;

-- Telegram's send budget for the whole deployment (storage/send_budget.py): one leaky bucket
-- per name ('all': 30 messages a second; 'chat:<id>': one chat's gap). `free_at` is when the
-- bucket is empty again, in seconds (the server's epoch, or a test's simulated clock).
CREATE TABLE send_budget (
    name TEXT PRIMARY KEY,
    free_at DOUBLE PRECISION NOT NULL
);

-- Take room for one message in bucket `bucket` (`per_second` messages a second, holding
-- `capacity` of them), leaving `keep_free` of it free: 0 when the room was taken, else the
-- seconds until there is room (nothing taken). `force` takes it regardless (a reply to a
-- private chat goes at once; the chat's gap still starts). `at`: the time to use, NULL for
-- the server's own clock, which all workers share. The row lock makes each call atomic.
CREATE FUNCTION send_room(
    bucket TEXT,
    per_second DOUBLE PRECISION,
    capacity DOUBLE PRECISION,
    keep_free DOUBLE PRECISION,
    force INTEGER,
    at DOUBLE PRECISION
) RETURNS DOUBLE PRECISION LANGUAGE plpgsql AS $$
DECLARE
    now_s DOUBLE PRECISION := COALESCE(at, extract(epoch FROM clock_timestamp()));
    step DOUBLE PRECISION := 1.0 / per_second;
    empty_at DOUBLE PRECISION;
    wait DOUBLE PRECISION;
BEGIN
    INSERT INTO send_budget (name, free_at) VALUES (bucket, 0) ON CONFLICT (name) DO NOTHING;
    SELECT free_at INTO empty_at FROM send_budget WHERE name = bucket FOR UPDATE;
    wait := empty_at - now_s - (capacity - keep_free - 1) * step + 1e-9;
    IF wait > 0 AND force = 0 THEN
        RETURN GREATEST(wait, 1e-6);
    END IF;
    UPDATE send_budget SET free_at = GREATEST(empty_at, now_s) + step WHERE name = bucket;
    RETURN 0;
END
$$;
