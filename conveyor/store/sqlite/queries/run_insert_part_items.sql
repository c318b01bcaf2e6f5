-- A fan-out part's item rows (decision 136), when run_insert_part_jobs gave its jobs ids
-- :first_id, :first_id + 1, ... in item order (checked by the caller): each item's job id is
-- its place in :items (the part's item texts) after :first_id.
INSERT INTO conveyor_stage_items (stage_run_id, item, job_id, state, input)
SELECT :stage_run_id, :first + x.key, :first_id + x.key, 'queued', x.value
FROM json_each(:items) AS x
