DELETE FROM conveyor_incidents
WHERE id IN (
    SELECT i.id FROM conveyor_incidents AS i
    WHERE i.state = 'resolved' AND i.resolved_at < :cutoff
      AND NOT EXISTS (
          SELECT 1 FROM conveyor_deliveries AS d WHERE d.kind = 'alert' AND d.subject = i.id
      )
    ORDER BY i.resolved_at
    LIMIT :limit
)
