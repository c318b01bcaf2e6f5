-- Every attempt counts, the successful one too. The fence (still pending, still leased to
-- this owner, same attempts) makes a late or repeated report change nothing; a replaced
-- webhook row has lost its lease, so a report about the older finish is late too.
WITH c AS (
    SELECT COALESCE(%(now)s::float8, extract(epoch FROM now())::float8) AS now
)
UPDATE {schema}.conveyor_deliveries AS d
SET attempts = d.attempts + 1,
    state = CASE
        WHEN %(error)s::text IS NULL THEN 'delivered'
        WHEN %(retry_in)s::float8 IS NULL THEN 'failed'
        ELSE 'pending'
    END,
    delivered_at = CASE WHEN %(error)s::text IS NULL THEN c.now END,
    failed_at = CASE
        WHEN %(error)s::text IS NOT NULL AND %(retry_in)s::float8 IS NULL THEN c.now
    END,
    last_error = COALESCE(%(error)s::text, d.last_error),
    next_try_at = CASE
        WHEN %(error)s::text IS NOT NULL AND %(retry_in)s::float8 IS NOT NULL
            THEN c.now + %(retry_in)s::float8
        ELSE d.next_try_at
    END,
    lease_owner = NULL,
    lease_until = NULL
FROM c
WHERE d.id = %(id)s AND d.lease_owner = %(owner)s AND d.attempts = %(attempts)s
  AND d.state = 'pending'
