-- Reads only the active partial index (slots not judged, or judged late): a judged slot's job
-- is final, and a busy schedule keeps millions of those. Two slots share a job when its unique
-- key was held by the earlier slot's run. A slot that started a pipeline run counts the run's
-- unfinished stage jobs: the run is going while any of them is.
SELECT DISTINCT s.job_id
FROM conveyor_schedule_slots AS s
JOIN conveyor_jobs AS j ON j.id = s.job_id
WHERE s.schedule = :schedule
  AND (s.verdict IS NULL OR s.verdict = 'late')
  AND j.state IN ('scheduled', 'queued', 'running', 'retrying')
UNION
SELECT i.job_id
FROM conveyor_schedule_slots AS s
JOIN conveyor_runs AS r ON r.id = s.run_id
JOIN conveyor_stage_runs AS sr ON sr.run_id = r.id
JOIN conveyor_stage_items AS i ON i.stage_run_id = sr.id
JOIN conveyor_jobs AS j ON j.id = i.job_id
WHERE s.schedule = :schedule
  AND (s.verdict IS NULL OR s.verdict = 'late')
  AND r.state = 'running'
  AND j.state IN ('scheduled', 'queued', 'running', 'retrying')
ORDER BY 1
