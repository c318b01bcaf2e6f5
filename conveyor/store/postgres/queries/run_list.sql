SELECT r.id, r.pipeline, r.state, r.created_at, r.finished_at, r.error, r.tenant, r.resumes,
    (SELECT count(*) FROM {schema}.conveyor_stage_runs AS s WHERE s.run_id = r.id),
    (SELECT count(*) FROM {schema}.conveyor_stage_runs AS s
     WHERE s.run_id = r.id AND s.state = 'succeeded')
FROM {schema}.conveyor_runs AS r
WHERE (%(pipeline)s::text IS NULL OR r.pipeline = %(pipeline)s)
    AND (%(states)s::jsonb IS NULL
        OR r.state IN (SELECT jsonb_array_elements_text(%(states)s::jsonb)))
    AND (%(tenant)s::text IS NULL OR r.tenant = %(tenant)s)
    AND (%(before_id)s::bigint IS NULL OR r.id < %(before_id)s)
ORDER BY r.id DESC
LIMIT %(limit)s OFFSET %(offset)s
