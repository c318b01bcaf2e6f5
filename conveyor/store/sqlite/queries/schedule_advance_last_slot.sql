-- last_slot only moves forward: a scheduler that fired an older slot late never rewinds it.
UPDATE conveyor_schedules
SET last_slot = :slot
WHERE name = :name AND (last_slot IS NULL OR last_slot < :slot)
