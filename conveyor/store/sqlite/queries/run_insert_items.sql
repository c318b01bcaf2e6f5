-- Each element of the batch is an array: [stage_run_id, item, job_id, input]
-- (SQLiteRunDialect.write_back).
INSERT INTO conveyor_stage_items (stage_run_id, item, job_id, state, input)
SELECT b.value ->> 0, b.value ->> 1, b.value ->> 2, 'queued', b.value ->> 3
FROM json_each(:batch) AS b
