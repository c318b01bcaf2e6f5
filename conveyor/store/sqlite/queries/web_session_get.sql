SELECT credential, role, expires_at
FROM conveyor_web_sessions
WHERE id = :id AND expires_at > :now
