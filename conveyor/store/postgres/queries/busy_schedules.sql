-- slot_active_jobs for many schedules at once: the schedules with an unfinished job (a
-- scheduler round's overlap check, one statement). Reads only the active partial index
-- (slots not judged, or judged late), as slot_active_jobs does.
SELECT s.schedule
FROM {schema}.conveyor_schedule_slots AS s
JOIN {schema}.conveyor_jobs AS j ON j.id = s.job_id
WHERE s.schedule = ANY(%(schedules)s::text[])
  AND (s.verdict IS NULL OR s.verdict = 'late')
  AND j.state IN ('scheduled', 'queued', 'running', 'retrying')
UNION
SELECT s.schedule
FROM {schema}.conveyor_schedule_slots AS s
JOIN {schema}.conveyor_runs AS r ON r.id = s.run_id
JOIN {schema}.conveyor_stage_runs AS sr ON sr.run_id = r.id
JOIN {schema}.conveyor_stage_items AS i ON i.stage_run_id = sr.id
JOIN {schema}.conveyor_jobs AS j ON j.id = i.job_id
WHERE s.schedule = ANY(%(schedules)s::text[])
  AND (s.verdict IS NULL OR s.verdict = 'late')
  AND r.state = 'running'
  AND j.state IN ('scheduled', 'queued', 'running', 'retrying')
