-- One request's whole chain of events (`roster history --request`): found by its
-- correlation id without scanning the log.
CREATE INDEX events_correlation ON events (json_extract(metadata, '$.correlation_id'), global_position);
