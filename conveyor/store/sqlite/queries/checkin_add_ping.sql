INSERT INTO conveyor_checkin_pings (name, at) VALUES (:name, :now)
