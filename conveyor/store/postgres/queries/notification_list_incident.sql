SELECT id, incident_id, kind, sink, payload_json,
       extract(epoch FROM created_at)::float8, extract(epoch FROM next_try_at)::float8,
       attempts, extract(epoch FROM delivered_at)::float8,
       extract(epoch FROM failed_at)::float8, last_error
FROM {schema}.conveyor_notifications
WHERE incident_id = %(incident_id)s
ORDER BY id DESC
LIMIT %(limit)s
