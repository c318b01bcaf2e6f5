UPDATE {schema}.conveyor_schedule_slots AS s
SET run_id = l.run_id
FROM unnest(%(slots)s::float8[], %(run_ids)s::bigint[]) AS l(slot, run_id)
WHERE s.schedule = %(schedule)s AND s.slot = l.slot
