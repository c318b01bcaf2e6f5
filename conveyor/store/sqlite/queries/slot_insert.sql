-- The exactly-once write: a slot another scheduler already wrote changes nothing (rowcount 0),
-- and its job is then not inserted.
INSERT INTO conveyor_schedule_slots (schedule, slot, status, manual, fired_by, fired_at)
VALUES (:schedule, :slot, :status, :manual, :by, :now)
ON CONFLICT (schedule, slot) DO NOTHING
