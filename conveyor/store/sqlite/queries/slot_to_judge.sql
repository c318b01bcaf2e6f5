-- Unjudged slots the monitor can decide now, oldest first, read along the unjudged index:
-- missed and skipped slots, slots whose job is final or gone (pruned), and slots whose grace
-- ran out. Slots of removed schedules have no grace to judge by and are left out.
-- A slot that started a pipeline run (run_id) is judged by the run, not by a job: the job
-- columns then carry the run's state (failed reads as dead), times, result and error.
SELECT s.schedule, s.slot, s.status, s.fired_at, s.manual, s.fired_by, s.job_id,
       CASE WHEN s.run_id IS NULL THEN j.state
            WHEN r.state = 'failed' THEN 'dead' ELSE r.state END,
       CASE WHEN s.run_id IS NULL THEN j.started_at ELSE r.created_at END,
       CASE WHEN s.run_id IS NULL THEN j.finished_at ELSE r.finished_at END,
       CASE WHEN s.run_id IS NULL THEN j.result ELSE r.result END,
       CASE WHEN s.run_id IS NULL THEN j.error_type
            WHEN r.state = 'failed' THEN 'RunFailed' END,
       CASE WHEN s.run_id IS NULL THEN j.error_message ELSE r.error END,
       s.verdict, s.verdict_detail, s.judged_at, s.run_id
FROM conveyor_schedule_slots AS s
JOIN conveyor_schedules AS d ON d.name = s.schedule
LEFT JOIN conveyor_jobs AS j ON j.id = s.job_id
LEFT JOIN conveyor_runs AS r ON r.id = s.run_id
WHERE s.verdict IS NULL
  AND (
      s.status <> 'enqueued'
      OR (s.run_id IS NULL
          AND (j.id IS NULL
               OR (j.state = 'succeeded' OR j.state = 'dead' OR j.state = 'cancelled')))
      OR (s.run_id IS NOT NULL AND (r.id IS NULL OR r.state <> 'running'))
      OR :now >= s.slot + d.grace
  )
ORDER BY s.slot, s.schedule
LIMIT :limit
