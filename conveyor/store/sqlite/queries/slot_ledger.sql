-- Newest slots first, a page at a time: the next page starts below the last slot seen.
SELECT s.schedule, s.slot, s.status, s.fired_at, s.manual, s.fired_by, s.job_id,
       j.state, j.started_at, j.finished_at, j.result, j.error_type, j.error_message,
       s.verdict, s.verdict_detail, s.judged_at
FROM conveyor_schedule_slots AS s
LEFT JOIN conveyor_jobs AS j ON j.id = s.job_id
WHERE s.schedule = :schedule AND s.slot < coalesce(:before, 1e999)
ORDER BY s.slot DESC
LIMIT :limit
