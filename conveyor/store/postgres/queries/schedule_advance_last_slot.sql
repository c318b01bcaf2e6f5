-- last_slot only moves forward: a scheduler that fired an older slot late never rewinds it.
-- One statement for every schedule a round fired (each name once).
UPDATE {schema}.conveyor_schedules AS s
SET last_slot = a.slot
FROM unnest(%(names)s::text[], %(slots)s::float8[]) AS a(name, slot)
WHERE s.name = a.name AND (s.last_slot IS NULL OR s.last_slot < a.slot)
