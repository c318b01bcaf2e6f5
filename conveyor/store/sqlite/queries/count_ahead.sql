-- Ready jobs of the job's queue that claim order (priority DESC, run_at, id) puts first.
SELECT COUNT(*)
FROM (
    SELECT 1
    FROM conveyor_jobs AS j, (SELECT queue, priority, run_at, id
                              FROM conveyor_jobs WHERE id = :id) AS me
    WHERE j.queue = me.queue
      AND (j.state = 'queued' OR j.state = 'scheduled' OR j.state = 'retrying')
      AND j.run_at <= :now
      AND j.id <> me.id
      AND (j.priority > me.priority
           OR (j.priority = me.priority
               AND (j.run_at < me.run_at OR (j.run_at = me.run_at AND j.id < me.id))))
    LIMIT :cap
)
