-- Finished webhook deliveries outlive nothing they report on: once the job is pruned or
-- discarded the row goes too. Pending rows stay until delivered or given up.
DELETE FROM conveyor_deliveries
WHERE id IN (
    SELECT d.id FROM conveyor_deliveries AS d
    WHERE d.kind = 'webhook' AND d.state <> 'pending'
      AND NOT EXISTS (SELECT 1 FROM conveyor_jobs AS j WHERE j.id = d.subject)
    LIMIT :limit
)
