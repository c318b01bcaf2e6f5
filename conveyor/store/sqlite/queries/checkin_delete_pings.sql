DELETE FROM conveyor_checkin_pings WHERE name = :name
