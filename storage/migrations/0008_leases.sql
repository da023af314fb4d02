-- One instance per database, and outbox rows claimed before they are sent.
--
-- A running `triobot run` holds the 'bot' lease: its holder, pid and host, renewed while it
-- runs (storage/lease.py). A second process on the same database finds it held and refuses
-- to start; a lease its holder stopped renewing (SIGKILL, a lost machine) expires.
CREATE TABLE instance_lease (
    name       TEXT PRIMARY KEY,
    holder     TEXT NOT NULL,   -- host:pid:random, unique per process start
    pid        INTEGER NOT NULL,
    host       TEXT NOT NULL,
    started_at TEXT NOT NULL,
    renewed_at TEXT NOT NULL,
    expires_at TEXT NOT NULL
);

-- Before a message goes to Telegram its row is claimed atomically: status 'sending', who
-- claimed it, until when. Two processes can therefore never send one row; a claim whose
-- holder died expires and the row is sent again (the one message that may have been in
-- flight, as before).
ALTER TABLE outbox ADD COLUMN claimed_by TEXT;
ALTER TABLE outbox ADD COLUMN claim_expires_at TEXT;
CREATE INDEX outbox_sending ON outbox(claim_expires_at) WHERE status = 'sending';
CREATE INDEX outbox_sent_at ON outbox(sent_at) WHERE status = 'sent';
