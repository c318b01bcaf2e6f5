-- Fresh attempts for picked dead jobs, as retry_jobs gives them: attempt 0, no result, no
-- lease, no snoozes counted, no start deadline; the attempts table keeps their history. :moves holds [id, state, delay] per job: the
-- target state is the lifecycle's, decided by the caller, and the job is due delay seconds
-- from now. :args, when given, replaces the arguments (a replay with new ones). Returns the ids
-- it moved.
UPDATE conveyor_jobs
SET state = moved.state,
    run_at = :now + moved.delay,
    args = coalesce(:args, args),
    attempt = 0,
    meta = json_remove(meta, '$.snoozes'),
    expires_at = NULL,
    finished_at = NULL,
    result = NULL,
    lease_until = NULL,
    worker_id = NULL
FROM (
    SELECT value ->> 0 AS id, value ->> 1 AS state, value ->> 2 AS delay FROM json_each(:moves)
) AS moved
WHERE conveyor_jobs.id = moved.id AND conveyor_jobs.state = 'dead'
RETURNING conveyor_jobs.id
