-- Single sign-on in flight. A row of `sso_logins` is one browser sent to an
-- organization's provider: keyed by the SHA-256 of the `state` it carries, bound
-- to that browser by the SHA-256 of a cookie, holding the `nonce` and PKCE
-- verifier the callback needs (so the callback may reach any instance). Taken
-- (deleted) by the callback, so a `state` works once; 10 minutes at the most.
CREATE TABLE sso_logins (
    state_hash TEXT PRIMARY KEY,
    browser_hash TEXT NOT NULL,
    org_id TEXT NOT NULL,
    nonce TEXT NOT NULL,
    pkce_verifier TEXT NOT NULL,
    invitation_id TEXT,
    token_digest TEXT,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL
);
CREATE INDEX sso_logins_expiry ON sso_logins (expires_at);
-- A provider identity waiting for its person to confirm it with their Roster
-- password once (a person who already belongs to other organizations), keyed by
-- the SHA-256 of a token held by the same browser. 10 minutes at the most.
CREATE TABLE sso_pending_links (
    link_hash TEXT PRIMARY KEY,
    org_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    subject TEXT NOT NULL,
    email TEXT NOT NULL,
    full_name TEXT NOT NULL,
    invitation_id TEXT,
    token_digest TEXT,
    expires_at TEXT NOT NULL
);
CREATE INDEX sso_pending_links_expiry ON sso_pending_links (expires_at);
