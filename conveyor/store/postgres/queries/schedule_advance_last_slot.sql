-- last_slot only moves forward: a scheduler that fired an older slot late never rewinds it.
UPDATE {schema}.conveyor_schedules
SET last_slot = %(slot)s
WHERE name = %(name)s AND (last_slot IS NULL OR last_slot < %(slot)s)
