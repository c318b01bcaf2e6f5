INSERT INTO conveyor_web_sessions (id, credential, role, created_at, expires_at)
VALUES (:id, :credential, :role, :now, :now + :seconds)
