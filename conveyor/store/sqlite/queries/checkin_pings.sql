SELECT at FROM conveyor_checkin_pings
WHERE name = :name AND at > :since
ORDER BY at
