-- Dead jobs grouped by name and error type, biggest first, read along the partial index
-- conveyor_jobs_finished: SQLite uses it only when the query repeats its WHERE term verbatim
-- (the OR chain of migration 0022), and is told to, since it would rather scan the whole table
-- along conveyor_jobs_list_name to skip the sort of the groups. Each group's sample message is one probe of the same index at
-- the group's newest finished_at.
SELECT g.name, g.error_type, g.n, g.newest, g.oldest,
       (SELECT d.error_message
        FROM conveyor_jobs AS d
        WHERE d.state = 'dead'
          AND (d.state = 'succeeded' OR d.state = 'dead' OR d.state = 'cancelled')
          AND d.finished_at = g.newest AND d.name = g.name AND d.error_type IS g.error_type
        ORDER BY d.id DESC
        LIMIT 1)
FROM (
    SELECT name, error_type, COUNT(*) AS n, MAX(finished_at) AS newest,
           MIN(finished_at) AS oldest
    FROM conveyor_jobs INDEXED BY conveyor_jobs_finished
    WHERE state = 'dead' AND (state = 'succeeded' OR state = 'dead' OR state = 'cancelled')
    GROUP BY name, error_type
    ORDER BY n DESC, name, error_type NULLS FIRST
    LIMIT :limit
) AS g
ORDER BY g.n DESC, g.name, g.error_type NULLS FIRST
