-- Alerts never conflict (the unique index holds webhook rows only). A job's newer finish
-- replaces its webhook row for an older one, voiding any claim on it; the same finish again
-- (another deliverer got there first) changes nothing: the second insert waits for the first
-- one's commit, then finds its row and leaves it. Ids follow the input order.
INSERT INTO {schema}.conveyor_deliveries AS d
    (kind, subject, event, destination, payload_json, event_at, state, attempts, next_try_at,
     created_at)
SELECT t.kind, t.subject, t.event, t.destination, t.payload_json, t.event_at, 'pending', 0,
       c.now, c.now
FROM unnest(%(kinds)s::text[], %(subjects)s::bigint[], %(events)s::text[],
            %(destinations)s::text[], %(payloads)s::text[], %(event_ats)s::float8[])
     WITH ORDINALITY AS t(kind, subject, event, destination, payload_json, event_at, ord),
     (SELECT COALESCE(%(now)s::float8, extract(epoch FROM now())::float8) AS now) AS c
ORDER BY t.ord
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
WHERE excluded.event_at > d.event_at
RETURNING d.id
