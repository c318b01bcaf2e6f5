-- Runs inside the write transaction, so two claimers are serialised: the second sees the
-- first one's lease and skips those rows.
UPDATE conveyor_deliveries
SET lease_owner = :owner, lease_until = :now + :lease
WHERE id IN (
    SELECT id FROM conveyor_deliveries
    WHERE state = 'pending' AND next_try_at <= :now
      AND (lease_until IS NULL OR lease_until <= :now)
      AND kind IN (SELECT value FROM json_each(:kinds))
    ORDER BY next_try_at, id
    LIMIT :limit
)
RETURNING id, kind, subject, event, destination, payload_json, event_at, state, attempts,
          next_try_at, lease_owner, lease_until, last_error, created_at, delivered_at,
          failed_at
