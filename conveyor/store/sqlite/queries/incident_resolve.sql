UPDATE conveyor_incidents
SET state = 'resolved', resolved_at = :now, updated_at = :now
WHERE rule = :rule AND subject = :subject AND state = 'firing'
RETURNING id, rule, subject, state, summary, details_json, opened_at, updated_at, resolved_at,
          last_notified_at, notify_count
