-- Dashboard sessions, kept in the store so that every dashboard process behind a load
-- balancer sees a logout at once (a cookie alone cannot be revoked).

-- id is a SHA-256 digest of the session id in the browser's cookie, so reading this table
-- gives no cookie that logs in. credential is a digest of the token that logged in, and role
-- the role that token had then: a session counts only while the dashboard's tokens still
-- map that credential to that role.
CREATE TABLE conveyor_web_sessions (
    id TEXT PRIMARY KEY,
    credential TEXT NOT NULL,
    role TEXT NOT NULL,
    created_at REAL NOT NULL,
    expires_at REAL NOT NULL
) STRICT;

-- Logins delete expired sessions along it.
CREATE INDEX conveyor_web_sessions_expiry ON conveyor_web_sessions (expires_at);
