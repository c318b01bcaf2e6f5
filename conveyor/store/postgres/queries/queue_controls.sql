SELECT name, paused, extract(epoch FROM changed_at)::float8, changed_by
FROM {schema}.conveyor_queues
ORDER BY name
