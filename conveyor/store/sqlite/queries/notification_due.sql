SELECT id, incident_id, kind, sink, payload_json, created_at, next_try_at, attempts,
       delivered_at, failed_at, last_error
FROM conveyor_notifications
WHERE delivered_at IS NULL AND failed_at IS NULL AND next_try_at <= :now
ORDER BY next_try_at, id
LIMIT :limit
