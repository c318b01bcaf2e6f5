INSERT INTO {schema}.conveyor_once (key, job_id)
VALUES (%(key)s, %(job_id)s)
ON CONFLICT (key) DO NOTHING
