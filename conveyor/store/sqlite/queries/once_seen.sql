SELECT 1 FROM conveyor_once WHERE key = :key
