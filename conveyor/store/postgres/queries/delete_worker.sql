DELETE FROM {schema}.conveyor_workers WHERE id = %(worker_id)s
