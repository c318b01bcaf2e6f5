-- Expired sessions go in the same statement, so logins keep the table small.
WITH pruned AS (
    DELETE FROM {schema}.conveyor_web_sessions WHERE expires_at <= now()
)
INSERT INTO {schema}.conveyor_web_sessions (id, credential, role, created_at, expires_at)
VALUES (%(id)s, %(credential)s, %(role)s, now(), now() + make_interval(secs => %(seconds)s))
