SELECT coalesce(output, 'null')
FROM conveyor_stage_items
WHERE stage_run_id = :stage_run_id AND item >= 0 AND state = 'succeeded'
ORDER BY item
LIMIT :limit OFFSET :offset
