WITH gone AS (
    DELETE FROM {schema}.conveyor_attempts WHERE job_id = ANY(%(ids)s::bigint[])
), output AS (
    DELETE FROM {schema}.conveyor_job_output WHERE job_id = ANY(%(ids)s::bigint[])
), used AS (
    DELETE FROM {schema}.conveyor_usage WHERE job_id = ANY(%(ids)s::bigint[])
)
DELETE FROM {schema}.conveyor_jobs WHERE id = ANY(%(ids)s::bigint[])
