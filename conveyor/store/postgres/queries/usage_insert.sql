-- A row of a job that is gone (deleted between the attempt's end and this batch) is dropped.
INSERT INTO {schema}.conveyor_usage
    (job_id, attempt, name, queue, tenant, finished_at, wall, cpu, memory_mb, units_json)
SELECT %(job_id)s, %(attempt)s, %(name)s, %(queue)s, %(tenant)s, %(finished_at)s, %(wall)s,
       %(cpu)s, %(memory_mb)s, %(units)s
WHERE EXISTS (SELECT 1 FROM {schema}.conveyor_jobs WHERE id = %(job_id)s)
