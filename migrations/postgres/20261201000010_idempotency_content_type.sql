-- A replayed answer carries the content type it was first sent with (a refusal
-- stays application/problem+json). Rows stored before this have none: JSON.
ALTER TABLE idempotency_keys ADD COLUMN content_type TEXT;
