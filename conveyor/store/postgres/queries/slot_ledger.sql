-- Newest slots first, a page at a time: the next page starts below the last slot seen.
SELECT s.schedule, s.slot, s.status, extract(epoch FROM s.fired_at)::float8, s.manual,
       s.fired_by, s.job_id, j.state, extract(epoch FROM j.started_at)::float8,
       extract(epoch FROM j.finished_at)::float8, j.result::text, j.error_type,
       j.error_message, s.verdict, s.verdict_detail, extract(epoch FROM s.judged_at)::float8
FROM {schema}.conveyor_schedule_slots AS s
LEFT JOIN {schema}.conveyor_jobs AS j ON j.id = s.job_id
WHERE s.schedule = %(schedule)s
  AND s.slot < coalesce(%(before)s::float8, 'Infinity'::float8)
ORDER BY s.slot DESC
LIMIT %(limit)s
