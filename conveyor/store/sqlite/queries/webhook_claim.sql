-- Runs inside the write transaction, so two claimers are serialised: the second sees the
-- first one's lease (next_try_at pushed ahead) and skips those rows.
UPDATE conveyor_job_webhooks
SET next_try_at = :now + :lease
WHERE job_id IN (
    SELECT job_id FROM conveyor_job_webhooks
    WHERE state = 'pending' AND next_try_at <= :now
    ORDER BY next_try_at, job_id
    LIMIT :limit
)
RETURNING job_id, url, payload_json, finished_at, state, attempts, next_try_at, last_error,
          delivered_at, created_at
