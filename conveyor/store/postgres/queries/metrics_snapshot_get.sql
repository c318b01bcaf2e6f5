SELECT taken_at, body FROM {schema}.conveyor_metrics_snapshot WHERE name = %(name)s
