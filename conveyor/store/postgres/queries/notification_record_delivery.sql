-- Every attempt counts, the successful one too. A failure keeps its error and is due again
-- at next_try_at, or is given up (failed_at) when there is none. A row already delivered
-- or given up is final and stays as it is.
UPDATE {schema}.conveyor_notifications
SET attempts = attempts + 1,
    delivered_at = CASE WHEN %(error)s::text IS NULL THEN now() END,
    last_error = COALESCE(%(error)s::text, last_error),
    next_try_at = CASE
        WHEN %(error)s::text IS NOT NULL AND %(next_try_at)s::float8 IS NOT NULL
            THEN to_timestamp(%(next_try_at)s::float8)
        ELSE next_try_at
    END,
    failed_at = CASE
        WHEN %(error)s::text IS NOT NULL AND %(next_try_at)s::float8 IS NULL THEN now()
    END
WHERE id = %(id)s AND delivered_at IS NULL AND failed_at IS NULL
