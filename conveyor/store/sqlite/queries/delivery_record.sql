-- Every attempt counts, the successful one too. The fence (still pending, still leased to
-- this owner, same attempts) makes a late or repeated report change nothing; a replaced
-- webhook row has lost its lease, so a report about the older finish is late too.
UPDATE conveyor_deliveries
SET attempts = attempts + 1,
    state = CASE
        WHEN :error IS NULL THEN 'delivered'
        WHEN :retry_in IS NULL THEN 'failed'
        ELSE 'pending'
    END,
    delivered_at = CASE WHEN :error IS NULL THEN :now END,
    failed_at = CASE WHEN :error IS NOT NULL AND :retry_in IS NULL THEN :now END,
    last_error = COALESCE(:error, last_error),
    next_try_at = CASE
        WHEN :error IS NOT NULL AND :retry_in IS NOT NULL THEN :now + :retry_in
        ELSE next_try_at
    END,
    lease_owner = NULL,
    lease_until = NULL
WHERE id = :id AND lease_owner = :owner AND attempts = :attempts AND state = 'pending'
