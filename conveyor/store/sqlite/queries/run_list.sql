SELECT r.id, r.pipeline, r.state, r.created_at, r.finished_at, r.error, r.tenant, r.resumes,
    (SELECT count(*) FROM conveyor_stage_runs AS s WHERE s.run_id = r.id),
    (SELECT count(*) FROM conveyor_stage_runs AS s
     WHERE s.run_id = r.id AND s.state = 'succeeded')
FROM conveyor_runs AS r
WHERE (:pipeline IS NULL OR r.pipeline = :pipeline)
    AND (:states IS NULL OR r.state IN (SELECT value FROM json_each(:states)))
    AND (:tenant IS NULL OR r.tenant = :tenant)
    AND (:before_id IS NULL OR r.id < :before_id)
ORDER BY r.id DESC
LIMIT :limit OFFSET :offset
