-- Invitation emails waiting to be tried again after a transient failure, each with
-- its own due time, so one recipient's trouble never holds back anyone else's email.
CREATE TABLE email_retries (
    send_id       TEXT   PRIMARY KEY,
    org_id        TEXT   NOT NULL,
    invitation_id TEXT   NOT NULL,
    attempts      BIGINT NOT NULL,
    due_at        TEXT   NOT NULL
);
CREATE INDEX email_retries_due ON email_retries (due_at);
