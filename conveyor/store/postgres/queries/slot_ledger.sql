-- Newest slots first, a page at a time: the next page starts below the last slot seen.
-- A slot that started a pipeline run reads the run where others read their job (see
-- slot_to_judge.sql).
SELECT s.schedule, s.slot, s.status, extract(epoch FROM s.fired_at)::float8, s.manual,
       s.fired_by, s.job_id,
       CASE WHEN s.run_id IS NULL THEN j.state
            WHEN r.state = 'failed' THEN 'dead' ELSE r.state END,
       CASE WHEN s.run_id IS NULL THEN extract(epoch FROM j.started_at)::float8
            ELSE r.created_at END,
       CASE WHEN s.run_id IS NULL THEN extract(epoch FROM j.finished_at)::float8
            ELSE r.finished_at END,
       CASE WHEN s.run_id IS NULL THEN j.result::text ELSE r.result END,
       CASE WHEN s.run_id IS NULL THEN j.error_type
            WHEN r.state = 'failed' THEN 'RunFailed' END,
       CASE WHEN s.run_id IS NULL THEN j.error_message ELSE r.error END,
       s.verdict, s.verdict_detail, extract(epoch FROM s.judged_at)::float8, s.run_id
FROM {schema}.conveyor_schedule_slots AS s
LEFT JOIN {schema}.conveyor_jobs AS j ON j.id = s.job_id
LEFT JOIN {schema}.conveyor_runs AS r ON r.id = s.run_id
WHERE s.schedule = %(schedule)s
  AND s.slot < coalesce(%(before)s::float8, 'Infinity'::float8)
ORDER BY s.slot DESC
LIMIT %(limit)s
