SELECT name, paused, changed_at, changed_by FROM conveyor_queues ORDER BY name
