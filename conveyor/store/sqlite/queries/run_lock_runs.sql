-- SQLite has one writer at a time: the write transaction is the runs' lock.
SELECT id, state FROM conveyor_runs
WHERE id IN (
    SELECT s.run_id FROM conveyor_stage_items AS i
    JOIN conveyor_stage_runs AS s ON s.id = i.stage_run_id
    WHERE i.job_id IN (SELECT value FROM json_each(:job_ids))
)
ORDER BY id
