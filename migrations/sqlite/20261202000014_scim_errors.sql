-- The last SCIM requests of each organization that were refused or failed,
-- shown to its owners under Directory sync (at most 20 kept per organization).
CREATE TABLE scim_errors (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    org_id TEXT NOT NULL,
    at TEXT NOT NULL,
    status INTEGER NOT NULL,
    request TEXT NOT NULL,
    detail TEXT NOT NULL
);
CREATE INDEX scim_errors_org ON scim_errors (org_id, id);
