SELECT holder FROM conveyor_leases WHERE name = :name AND expires_at > :now
