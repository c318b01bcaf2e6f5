-- Waiting jobs past their start deadline end as cancelled (the lifecycle's EXPIRE row, its
-- states and the message's parts are parameters), read along conveyor_jobs_expiring. Under
-- the write lock, so no claim is choosing them at the same time.
UPDATE conveyor_jobs
SET state = :lc_to,
    finished_at = :now,
    lease_until = NULL,
    error_type = :error_type,
    error_message = :before || strftime('%Y-%m-%d %H:%M:%S', expires_at, 'unixepoch') || :after
WHERE id IN (
    SELECT id
    FROM conveyor_jobs INDEXED BY conveyor_jobs_expiring
    WHERE expires_at IS NOT NULL
      AND (state = 'queued' OR state = 'scheduled' OR state = 'retrying')
      AND expires_at <= :now
      AND state IN (SELECT value FROM json_each(:lc_from))
    ORDER BY expires_at
    LIMIT :limit
)
RETURNING id
