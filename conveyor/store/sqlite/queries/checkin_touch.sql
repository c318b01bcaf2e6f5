UPDATE conveyor_checkins SET last_ping_at = :now WHERE name = :name
