-- Bounded: stops counting at %(cap)s, so a deep backlog costs no more than a shallow one. Each
-- half reads its ready index in order (the ORDER BY), never a table scan that stops early.
SELECT least(%(cap)s, (
    SELECT COUNT(*) FROM (
        SELECT 1
        FROM {schema}.conveyor_jobs
        WHERE queue = %(queue)s
          AND state IN ('queued', 'scheduled', 'retrying')
          AND limit_key IS NULL AND rate_key IS NULL
        ORDER BY priority DESC, run_at, id
        LIMIT %(cap)s
    ) AS plain
) + (
    SELECT COUNT(*) FROM (
        SELECT 1
        FROM {schema}.conveyor_jobs
        WHERE queue = %(queue)s
          AND state IN ('queued', 'scheduled', 'retrying')
          AND (limit_key IS NOT NULL OR rate_key IS NOT NULL)
        ORDER BY priority DESC, run_at, id
        LIMIT %(cap)s
    ) AS limited
))
