UPDATE {schema}.conveyor_schedule_slots AS s
SET job_id = l.job_id
FROM unnest(%(slots)s::float8[], %(job_ids)s::bigint[]) AS l(slot, job_id)
WHERE s.schedule = %(schedule)s AND s.slot = l.slot
