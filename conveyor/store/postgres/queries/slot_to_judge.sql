-- Unjudged slots the monitor can decide now, oldest first, read along the unjudged index:
-- missed and skipped slots, slots whose job is final or gone (pruned), and slots whose grace
-- ran out. Slots of removed schedules have no grace to judge by and are left out.
SELECT s.schedule, s.slot, s.status, extract(epoch FROM s.fired_at)::float8, s.manual,
       s.fired_by, s.job_id, j.state, extract(epoch FROM j.started_at)::float8,
       extract(epoch FROM j.finished_at)::float8, j.result::text, j.error_type,
       j.error_message, s.verdict, s.verdict_detail, extract(epoch FROM s.judged_at)::float8
FROM {schema}.conveyor_schedule_slots AS s
JOIN {schema}.conveyor_schedules AS d ON d.name = s.schedule
LEFT JOIN {schema}.conveyor_jobs AS j ON j.id = s.job_id
WHERE s.verdict IS NULL
  AND (
      s.status <> 'enqueued'
      OR j.id IS NULL
      OR j.state IN ('succeeded', 'dead', 'cancelled')
      OR extract(epoch FROM now())::float8 >= s.slot + d.grace
  )
ORDER BY s.slot, s.schedule COLLATE "C"
LIMIT %(limit)s
