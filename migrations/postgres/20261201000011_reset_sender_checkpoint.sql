-- Password-reset emails now have a sender of their own, following the log from
-- its own checkpoint ('worker.reset-email'). It starts where the one sender that
-- used to send both kinds of email had got to, so no reset is sent twice and none
-- is skipped.
INSERT INTO worker_checkpoints (name, position, updated_at)
SELECT 'worker.reset-email', position, updated_at FROM worker_checkpoints WHERE name = 'worker.email'
ON CONFLICT (name) DO NOTHING;
