-- The console's sessions and sign-ins in progress, shared by every
-- gateway replica: a browser may reach any of them.
CREATE TABLE mto_session (
    -- `session:` or `login:` and the SHA-256 of the cookie's secret: the
    -- secret itself is never stored.
    key TEXT PRIMARY KEY,
    value BYTEA NOT NULL,
    -- Unix seconds.
    expires BIGINT NOT NULL
);
CREATE INDEX mto_session_expires ON mto_session (expires);
