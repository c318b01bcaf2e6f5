SELECT name, value FROM {schema}.conveyor_steps WHERE job_id = %(job_id)s ORDER BY name
