DELETE FROM conveyor_web_sessions WHERE expires_at <= :now
