UPDATE {schema}.conveyor_workers SET last_seen = now() WHERE id = %(worker_id)s
