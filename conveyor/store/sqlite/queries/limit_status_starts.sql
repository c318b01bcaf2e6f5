-- Starts of one rate key still inside their window.
SELECT expires_at, rate_max
FROM conveyor_rate_starts
WHERE key = :key AND expires_at > :now
