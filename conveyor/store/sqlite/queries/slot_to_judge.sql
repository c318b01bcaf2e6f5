-- Unjudged slots the monitor can decide now, oldest first, read along the unjudged index:
-- missed and skipped slots, slots whose job is final or gone (pruned), and slots whose grace
-- ran out. Slots of removed schedules have no grace to judge by and are left out.
SELECT s.schedule, s.slot, s.status, s.fired_at, s.manual, s.fired_by, s.job_id,
       j.state, j.started_at, j.finished_at, j.result, j.error_type, j.error_message,
       s.verdict, s.verdict_detail, s.judged_at
FROM conveyor_schedule_slots AS s
JOIN conveyor_schedules AS d ON d.name = s.schedule
LEFT JOIN conveyor_jobs AS j ON j.id = s.job_id
WHERE s.verdict IS NULL
  AND (
      s.status <> 'enqueued'
      OR j.id IS NULL
      OR j.state IN ('succeeded', 'dead', 'cancelled')
      OR :now >= s.slot + d.grace
  )
ORDER BY s.slot, s.schedule
LIMIT :limit
