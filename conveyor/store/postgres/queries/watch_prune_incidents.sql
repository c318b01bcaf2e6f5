DELETE FROM {schema}.conveyor_incidents
WHERE id IN (
    SELECT i.id FROM {schema}.conveyor_incidents AS i
    WHERE i.state = 'resolved' AND i.resolved_at < now() - make_interval(secs => %(keep)s)
      AND NOT EXISTS (
          SELECT 1 FROM {schema}.conveyor_deliveries AS d
          WHERE d.kind = 'alert' AND d.subject = i.id
      )
    ORDER BY i.resolved_at
    LIMIT %(limit)s
)
