SELECT 1 FROM {schema}.conveyor_once WHERE key = %(key)s
