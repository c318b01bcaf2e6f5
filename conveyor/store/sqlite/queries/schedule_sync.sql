-- A code-declared schedule: a new one starts now, an existing one takes the new definition but
-- keeps its run-time state (created_at, paused, last_slot). A row whose definition did not
-- change is not written at all, so every worker can sync at start for free.
INSERT INTO conveyor_schedules (
    name, job_name, timing, tz, args_json, queue, priority, grace, catch_up, catch_up_cap,
    overlap, source, paused, paused_by, created_at, updated_at, last_slot
)
VALUES (
    :name, :job_name, :timing, :tz, :args_json, :queue, :priority, :grace, :catch_up,
    :catch_up_cap, :overlap, 'code', :paused, :paused_by, :now, :now, :last_slot
)
ON CONFLICT (name) DO UPDATE
SET job_name = excluded.job_name,
    timing = excluded.timing,
    tz = excluded.tz,
    args_json = excluded.args_json,
    queue = excluded.queue,
    priority = excluded.priority,
    grace = excluded.grace,
    catch_up = excluded.catch_up,
    catch_up_cap = excluded.catch_up_cap,
    overlap = excluded.overlap,
    source = 'code',
    updated_at = excluded.updated_at
WHERE conveyor_schedules.job_name IS NOT excluded.job_name
   OR conveyor_schedules.timing IS NOT excluded.timing
   OR conveyor_schedules.tz IS NOT excluded.tz
   OR conveyor_schedules.args_json IS NOT excluded.args_json
   OR conveyor_schedules.queue IS NOT excluded.queue
   OR conveyor_schedules.priority IS NOT excluded.priority
   OR conveyor_schedules.grace IS NOT excluded.grace
   OR conveyor_schedules.catch_up IS NOT excluded.catch_up
   OR conveyor_schedules.catch_up_cap IS NOT excluded.catch_up_cap
   OR conveyor_schedules.overlap IS NOT excluded.overlap
   OR conveyor_schedules.source IS NOT 'code'
