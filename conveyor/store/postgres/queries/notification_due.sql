SELECT id, incident_id, kind, sink, payload_json,
       extract(epoch FROM created_at)::float8, extract(epoch FROM next_try_at)::float8,
       attempts, extract(epoch FROM delivered_at)::float8,
       extract(epoch FROM failed_at)::float8, last_error
FROM {schema}.conveyor_notifications
WHERE delivered_at IS NULL AND failed_at IS NULL AND next_try_at <= now()
ORDER BY next_try_at, id
LIMIT %(limit)s
