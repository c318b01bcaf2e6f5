SELECT credential, role, extract(epoch FROM expires_at)::float8
FROM {schema}.conveyor_web_sessions
WHERE id = %(id)s AND expires_at > now()
