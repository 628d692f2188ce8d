-- Where each background worker (e.g. the email sender) has got to in the log.
-- Kept apart from projection checkpoints: a worker waiting on a mail server must
-- not hold back read-your-writes waits.
CREATE TABLE worker_checkpoints (
    name       TEXT   PRIMARY KEY,
    position   BIGINT NOT NULL,
    updated_at TEXT   NOT NULL
);
