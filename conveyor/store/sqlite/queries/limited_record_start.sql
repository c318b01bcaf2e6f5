INSERT INTO conveyor_rate_starts (key, started_at, expires_at, rate_max)
VALUES (:key, :now, :expires_at, :rate_max)
