DELETE FROM {schema}.conveyor_web_sessions WHERE id = %(id)s
