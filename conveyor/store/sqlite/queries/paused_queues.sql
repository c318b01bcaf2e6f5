SELECT name FROM conveyor_queues WHERE paused = 1
