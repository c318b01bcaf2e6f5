-- A row of a job that is gone (deleted between the attempt's end and this batch) is dropped.
INSERT INTO conveyor_usage
    (job_id, attempt, name, queue, tenant, finished_at, wall, cpu, memory_mb, units_json)
SELECT :job_id, :attempt, :name, :queue, :tenant, :finished_at, :wall, :cpu, :memory_mb, :units
WHERE EXISTS (SELECT 1 FROM conveyor_jobs WHERE id = :job_id)
