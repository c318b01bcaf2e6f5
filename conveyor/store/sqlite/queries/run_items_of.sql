SELECT stage_run_id, item, state,
    CASE WHEN :below IS NULL OR item < :below THEN input END,
    CASE WHEN :below IS NULL OR item < :below THEN output END,
    CASE WHEN :below IS NULL OR item < :below THEN error END,
    job_id
FROM conveyor_stage_items
WHERE stage_run_id IN (SELECT value FROM json_each(:ids))
ORDER BY stage_run_id, item
