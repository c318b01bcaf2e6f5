-- SKIP LOCKED: a row another deliverer is claiming right now is left to it, and once that
-- claim commits its lease makes the row not due.
WITH c AS (
    SELECT COALESCE(%(now)s::float8, extract(epoch FROM now())::float8) AS now
), due AS (
    SELECT d.id FROM {schema}.conveyor_deliveries AS d, c
    WHERE d.state = 'pending' AND d.next_try_at <= c.now
      AND (d.lease_until IS NULL OR d.lease_until <= c.now)
      AND d.kind = ANY(%(kinds)s::text[])
    ORDER BY d.next_try_at, d.id
    LIMIT %(limit)s
    FOR UPDATE OF d SKIP LOCKED
)
UPDATE {schema}.conveyor_deliveries AS d
SET lease_owner = %(owner)s, lease_until = c.now + %(lease)s::float8
FROM due, c
WHERE d.id = due.id
RETURNING d.id, d.kind, d.subject, d.event, d.destination, d.payload_json, d.event_at,
          d.state, d.attempts, d.next_try_at, d.lease_owner, d.lease_until, d.last_error,
          d.created_at, d.delivered_at, d.failed_at
