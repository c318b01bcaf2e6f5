DELETE FROM conveyor_web_sessions WHERE id = :id
