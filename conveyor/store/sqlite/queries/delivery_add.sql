-- Alerts never conflict (the unique index holds webhook rows only). A job's newer finish
-- replaces its webhook row for an older one, voiding any claim on it; the same finish again
-- (another deliverer got there first) changes nothing.
INSERT INTO conveyor_deliveries
    (kind, subject, event, destination, payload_json, event_at, state, attempts, next_try_at,
     created_at)
VALUES (:kind, :subject, :event, :destination, :payload_json, :event_at, 'pending', 0, :now,
        :now)
ON CONFLICT (subject) WHERE kind = 'webhook' DO UPDATE SET
    event = excluded.event,
    destination = excluded.destination,
    payload_json = excluded.payload_json,
    event_at = excluded.event_at,
    state = 'pending',
    attempts = 0,
    next_try_at = excluded.next_try_at,
    lease_owner = NULL,
    lease_until = NULL,
    last_error = NULL,
    delivered_at = NULL,
    failed_at = NULL,
    created_at = excluded.created_at
WHERE excluded.event_at > conveyor_deliveries.event_at
