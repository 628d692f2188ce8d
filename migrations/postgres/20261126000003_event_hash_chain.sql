-- Tamper evidence: each event's SHA-256 over the previous event of its stream and
-- its own canonical encoding (eventstore/src/integrity.rs documents the bytes).
ALTER TABLE events ADD COLUMN hash bytea;
