DELETE FROM conveyor_checkins WHERE name = :name
