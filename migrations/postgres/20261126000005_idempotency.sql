-- Answers to requests sent with an Idempotency-Key, kept 24 hours, so a repeat
-- returns the first answer and changes nothing. Scoped by the caller's session.
CREATE TABLE idempotency_keys (
    scope        TEXT   NOT NULL,
    key          TEXT   NOT NULL,
    request_hash TEXT   NOT NULL,
    status       BIGINT,
    body         TEXT,
    created_at   TEXT   NOT NULL,
    PRIMARY KEY (scope, key)
);
