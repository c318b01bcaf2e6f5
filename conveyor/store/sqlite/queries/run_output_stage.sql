SELECT s.id, s.state, s.fan_out,
    (SELECT count(*) FROM conveyor_stage_items AS i
     WHERE i.stage_run_id = s.id AND i.item >= 0 AND i.state = 'succeeded')
FROM conveyor_stage_runs AS s
WHERE s.run_id = :run_id AND s.stage = :stage
