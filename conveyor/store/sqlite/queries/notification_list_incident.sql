SELECT id, incident_id, kind, sink, payload_json, created_at, next_try_at, attempts,
       delivered_at, failed_at, last_error
FROM conveyor_notifications
WHERE incident_id = :incident_id
ORDER BY id DESC
LIMIT :limit
