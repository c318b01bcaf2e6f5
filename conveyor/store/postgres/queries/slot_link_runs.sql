UPDATE {schema}.conveyor_schedule_slots AS s
SET run_id = l.run_id
FROM unnest(%(schedules)s::text[], %(slots)s::float8[], %(run_ids)s::bigint[])
     AS l(schedule, slot, run_id)
WHERE s.schedule = l.schedule AND s.slot = l.slot
