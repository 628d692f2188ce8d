-- Old Idempotency-Key answers are purged in small batches; this finds them.
CREATE INDEX idempotency_keys_created ON idempotency_keys (created_at);
