-- Newest slots first, a page at a time: the next page starts below the last slot seen.
-- A slot that started a pipeline run reads the run where others read their job (see
-- slot_to_judge.sql).
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
LEFT JOIN conveyor_jobs AS j ON j.id = s.job_id
LEFT JOIN conveyor_runs AS r ON r.id = s.run_id
WHERE s.schedule = :schedule AND s.slot < coalesce(:before, 1e999)
ORDER BY s.slot DESC
LIMIT :limit
