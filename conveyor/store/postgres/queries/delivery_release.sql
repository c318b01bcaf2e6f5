-- Fenced like a record: only this owner's claim on a still pending row is given back.
UPDATE {schema}.conveyor_deliveries
SET lease_owner = NULL, lease_until = NULL
WHERE id = ANY(%(ids)s::bigint[]) AND lease_owner = %(owner)s AND state = 'pending'
