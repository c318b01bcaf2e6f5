-- Ready jobs of the job's queue that claim order (priority DESC, run_at, id) puts first.
SELECT COUNT(*)
FROM (
    SELECT 1
    FROM {schema}.conveyor_jobs AS j,
         (SELECT queue, priority, run_at, id FROM {schema}.conveyor_jobs WHERE id = %(id)s) AS me
    WHERE j.queue = me.queue
      AND j.state IN ('queued', 'scheduled', 'retrying')
      AND j.run_at <= now()
      AND j.id <> me.id
      AND (j.priority > me.priority
           OR (j.priority = me.priority AND (j.run_at, j.id) < (me.run_at, me.id)))
    LIMIT %(cap)s
) AS ahead
