INSERT INTO {schema}.conveyor_stage_items (stage_run_id, item, job_id, state, input)
SELECT b.stage_run_id, b.item, b.job_id, 'queued', b.input
FROM jsonb_to_recordset(%(batch)s::jsonb) AS b(
    stage_run_id bigint, item int, job_id bigint, input text
)
