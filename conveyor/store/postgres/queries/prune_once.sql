DELETE FROM {schema}.conveyor_once
WHERE key IN (
    SELECT key FROM {schema}.conveyor_once
    WHERE created_at < now() - make_interval(secs => %(keep)s)
    LIMIT %(limit)s
)
