-- Expired sessions are purged in small batches at sign-in; this finds them.
CREATE INDEX sessions_expiry ON sessions (expires_at);
