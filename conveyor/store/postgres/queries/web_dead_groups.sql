-- Dead jobs grouped by name and error type, biggest first, read along the partial index
-- conveyor_jobs_finished; each group's sample message is one probe of that index at the
-- group's newest finished_at.
SELECT g.name, g.error_type, g.n,
       extract(epoch FROM g.newest)::float8, extract(epoch FROM g.oldest)::float8,
       (SELECT d.error_message
        FROM {schema}.conveyor_jobs AS d
        WHERE d.state = 'dead' AND d.finished_at = g.newest
          AND d.name = g.name AND d.error_type IS NOT DISTINCT FROM g.error_type
        ORDER BY d.id DESC
        LIMIT 1)
FROM (
    SELECT name, error_type, COUNT(*) AS n, MAX(finished_at) AS newest,
           MIN(finished_at) AS oldest
    FROM {schema}.conveyor_jobs
    WHERE state = 'dead'
    GROUP BY name, error_type
    ORDER BY n DESC, name, error_type NULLS FIRST
    LIMIT %(limit)s
) AS g
ORDER BY g.n DESC, g.name, g.error_type NULLS FIRST
