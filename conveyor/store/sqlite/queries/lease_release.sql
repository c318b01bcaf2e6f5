DELETE FROM conveyor_leases WHERE name = :name AND holder = :holder
