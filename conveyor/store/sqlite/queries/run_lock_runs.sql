SELECT id, state FROM conveyor_runs
WHERE id IN (
    SELECT run_id FROM conveyor_stage_runs WHERE id IN (SELECT value FROM json_each(:stage_ids))
)
ORDER BY id
