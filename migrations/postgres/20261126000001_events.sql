-- The append-only event log. See eventstore/src/postgres.rs for why positions are
-- built from transaction ids (gap safety) rather than taken from a sequence.
CREATE TABLE events (
    global_position bigint      PRIMARY KEY,
    event_id        uuid        NOT NULL,
    stream_id       text        NOT NULL,
    stream_version  bigint      NOT NULL CHECK (stream_version > 0),
    event_type      text        NOT NULL,
    schema_version  integer     NOT NULL CHECK (schema_version > 0),
    payload         jsonb       NOT NULL,
    metadata        jsonb       NOT NULL,
    recorded_at     timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT events_stream_version_key UNIQUE (stream_id, stream_version),
    CONSTRAINT events_event_id_key UNIQUE (event_id)
);

-- Positions are (transaction id + base) << 20 | index. After a logical restore into a
-- fresh cluster, transaction ids start again from a small number; raising `base`
-- keeps new positions above every restored one (`roster` restore path).
CREATE TABLE event_position_base (
    singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    base      bigint  NOT NULL DEFAULT 0 CHECK (base >= 0)
);
INSERT INTO event_position_base (singleton, base) VALUES (true, 0);
