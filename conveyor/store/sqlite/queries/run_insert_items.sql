INSERT INTO conveyor_stage_items (stage_run_id, item, job_id, state, input)
SELECT b.value ->> 'stage_run_id', b.value ->> 'item', b.value ->> 'job_id', 'queued',
    b.value ->> 'input'
FROM json_each(:batch) AS b
