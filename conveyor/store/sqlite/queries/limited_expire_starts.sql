-- Forget the starts of these keys that have left their window.
DELETE FROM conveyor_rate_starts
WHERE key IN (SELECT value FROM json_each(:keys)) AND expires_at <= :now
