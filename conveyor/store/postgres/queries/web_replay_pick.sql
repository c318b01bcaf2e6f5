-- The dead jobs a replay takes, oldest death first ({where} is the caller's JobFilter),
-- locked: a job another replay or retry takes first is re-checked against the WHERE once
-- that transaction ends, and skipped, not taken twice.
SELECT id
FROM {schema}.conveyor_jobs
WHERE state = 'dead' AND ({where})
ORDER BY finished_at, id
FOR UPDATE
