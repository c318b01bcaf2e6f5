SELECT limit_key, limit_max, rate_key, rate_max, rate_per
FROM {schema}.conveyor_jobs
WHERE id = %(id)s
