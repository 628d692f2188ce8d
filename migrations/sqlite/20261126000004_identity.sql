-- Credentials and sessions: secrets never enter the event log. Passwords are
-- argon2id PHC strings; session tokens are stored only as SHA-256 hex digests.
CREATE TABLE credentials (
    user_id       TEXT PRIMARY KEY,
    email_key     TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    updated_at    TEXT NOT NULL
);

CREATE TABLE sessions (
    token_hash TEXT PRIMARY KEY,
    user_id    TEXT NOT NULL,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL
);
CREATE INDEX sessions_user ON sessions (user_id);
