UPDATE {schema}.conveyor_schedule_slots AS s
SET job_id = l.job_id
FROM unnest(%(schedules)s::text[], %(slots)s::float8[], %(job_ids)s::bigint[])
     AS l(schedule, slot, job_id)
WHERE s.schedule = l.schedule AND s.slot = l.slot
