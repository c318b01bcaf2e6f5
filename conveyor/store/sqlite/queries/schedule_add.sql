-- A schedule added at run time; a taken name is left alone (the caller is told).
INSERT INTO conveyor_schedules (
    name, job_name, timing, tz, args_json, queue, priority, grace, catch_up, catch_up_cap,
    overlap, source, paused, paused_by, created_at, updated_at, last_slot
)
VALUES (
    :name, :job_name, :timing, :tz, :args_json, :queue, :priority, :grace, :catch_up,
    :catch_up_cap, :overlap, 'store', :paused, :paused_by, :now, :now, :last_slot
)
ON CONFLICT (name) DO NOTHING
