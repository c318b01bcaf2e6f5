-- Fenced like a record: only this owner's claim on a still pending row is given back.
UPDATE conveyor_deliveries
SET lease_owner = NULL, lease_until = NULL
WHERE id IN (SELECT value FROM json_each(:ids)) AND lease_owner = :owner
  AND state = 'pending'
