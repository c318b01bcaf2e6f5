-- Bounded: stops counting at %(cap)s, so a deep backlog costs no more than a shallow one.
SELECT COUNT(*)
FROM (
    SELECT 1
    FROM {schema}.conveyor_jobs
    WHERE queue = %(queue)s
      AND state IN ('queued', 'scheduled', 'retrying')
    LIMIT %(cap)s
) AS waiting
