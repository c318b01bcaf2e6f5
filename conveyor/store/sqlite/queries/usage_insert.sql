-- A row of a job that is gone (deleted between the attempt's end and this batch) is dropped.
-- Positional parameters, in the column order below (?1 is the job id, also the EXISTS
-- test's): the usage writer inserts one row per attempt, and binding ten named parameters
-- from a dict cost a third more than this (decision 113).
INSERT INTO conveyor_usage
    (job_id, attempt, name, queue, tenant, finished_at, wall, cpu, memory_mb, units_json)
SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10
WHERE EXISTS (SELECT 1 FROM conveyor_jobs WHERE id = ?1)
