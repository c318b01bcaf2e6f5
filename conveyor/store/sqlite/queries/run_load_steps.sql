SELECT name, value FROM conveyor_steps WHERE job_id = :job_id ORDER BY name
