SELECT id, rule, subject, state, summary, details_json,
       extract(epoch FROM opened_at)::float8, extract(epoch FROM updated_at)::float8,
       extract(epoch FROM resolved_at)::float8, extract(epoch FROM last_notified_at)::float8,
       notify_count
FROM {schema}.conveyor_incidents
WHERE state = 'firing'
ORDER BY opened_at, id
