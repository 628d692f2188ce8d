-- When each organization API key was last used (events record what keys did;
-- this only answers "last used" in the key list). Written at most once a minute
-- per key and instance; the later time wins.
CREATE TABLE api_key_use (
    key_id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL,
    last_used_at TEXT NOT NULL
);
CREATE INDEX api_key_use_org ON api_key_use (org_id);
