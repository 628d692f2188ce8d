-- The last SCIM requests of each organization that were refused or failed,
-- shown to its owners under Directory sync (at most 20 kept per organization).
CREATE TABLE scim_errors (
    id BIGSERIAL PRIMARY KEY,
    org_id TEXT NOT NULL,
    at TEXT NOT NULL,
    status BIGINT NOT NULL,
    request TEXT NOT NULL,
    detail TEXT NOT NULL
);
CREATE INDEX scim_errors_org ON scim_errors (org_id, id);
