DELETE FROM conveyor_workers WHERE id = :worker_id
