-- Rate starts that left their window count for nothing: drop them, a bounded batch at a time.
DELETE FROM conveyor_rate_starts
WHERE rowid IN (
    SELECT rowid FROM conveyor_rate_starts WHERE expires_at <= :now LIMIT :limit
)
