-- Where each projection (and each rebuild in progress) has got to in the log.
-- Read-model tables themselves belong to their projection (see projections/):
-- they are disposable, versioned by `version`, and rebuilt from the log.
CREATE TABLE projection_checkpoints (
    name            TEXT   PRIMARY KEY,
    version         BIGINT NOT NULL,
    position        BIGINT NOT NULL,
    updated_at      TEXT   NOT NULL,
    failed_position BIGINT,
    failure         TEXT
);
