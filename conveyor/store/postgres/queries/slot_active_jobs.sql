-- Reads only the active partial index (slots not judged, or judged late): a judged slot's job
-- is final, and a busy schedule keeps millions of those. Two slots share a job when its unique
-- key was held by the earlier slot's run.
SELECT DISTINCT s.job_id
FROM {schema}.conveyor_schedule_slots AS s
JOIN {schema}.conveyor_jobs AS j ON j.id = s.job_id
WHERE s.schedule = %(schedule)s
  AND (s.verdict IS NULL OR s.verdict = 'late')
  AND j.state IN ('scheduled', 'queued', 'running', 'retrying')
ORDER BY s.job_id
