-- Fresh attempts for picked dead jobs, as retry_jobs gives them: attempt 0, no result, no
-- lease; the attempts table keeps their history. The i-th job (key of :ids) is due
-- i * :spacing seconds from now; one due later waits as 'scheduled', like a delayed insert.
UPDATE conveyor_jobs
SET state = CASE WHEN picked.delay > 0 THEN 'scheduled' ELSE 'queued' END,
    run_at = :now + picked.delay,
    attempt = 0,
    finished_at = NULL,
    result = NULL,
    lease_until = NULL,
    worker_id = NULL
FROM (SELECT value AS id, key * :spacing AS delay FROM json_each(:ids)) AS picked
WHERE conveyor_jobs.id = picked.id AND conveyor_jobs.state = 'dead'
