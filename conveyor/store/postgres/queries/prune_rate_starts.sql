-- Rate starts that left their window count for nothing: drop them, a bounded batch at a time.
DELETE FROM {schema}.conveyor_rate_starts
WHERE ctid IN (
    SELECT ctid FROM {schema}.conveyor_rate_starts
    WHERE expires_at <= now()
    LIMIT %(limit)s
)
