SELECT name, paused, extract(epoch FROM changed_at)::float8, changed_by
FROM {schema}.conveyor_queues
WHERE name = %(name)s
