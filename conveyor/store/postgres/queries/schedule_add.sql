-- A schedule added at run time; a taken name is left alone (the caller is told).
INSERT INTO {schema}.conveyor_schedules (
    name, job_name, timing, tz, args_json, queue, priority, grace, catch_up, catch_up_cap,
    overlap, source, paused, paused_by, last_slot
)
VALUES (
    %(name)s, %(job_name)s, %(timing)s, %(tz)s, %(args_json)s, %(queue)s, %(priority)s,
    %(grace)s, %(catch_up)s, %(catch_up_cap)s, %(overlap)s, 'store', %(paused)s, %(paused_by)s,
    %(last_slot)s
)
ON CONFLICT (name) DO NOTHING
RETURNING name
