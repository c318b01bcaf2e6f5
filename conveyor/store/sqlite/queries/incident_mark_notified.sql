UPDATE conveyor_incidents
SET last_notified_at = :now, notify_count = notify_count + 1
WHERE id = :id
