-- The firing incident of (rule, subject), if any, takes the new summary and details.
UPDATE conveyor_incidents
SET summary = :summary, details_json = :details_json, updated_at = :now
WHERE rule = :rule AND subject = :subject AND state = 'firing'
RETURNING id, rule, subject, state, summary, details_json, opened_at, updated_at, resolved_at,
          last_notified_at, notify_count
