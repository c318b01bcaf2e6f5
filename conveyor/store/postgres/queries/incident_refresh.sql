-- The firing incident of (rule, subject), if any, takes the new summary and details.
UPDATE {schema}.conveyor_incidents
SET summary = %(summary)s, details_json = %(details_json)s, updated_at = now()
WHERE rule = %(rule)s AND subject = %(subject)s AND state = 'firing'
RETURNING id, rule, subject, state, summary, details_json,
          extract(epoch FROM opened_at)::float8, extract(epoch FROM updated_at)::float8,
          extract(epoch FROM resolved_at)::float8, extract(epoch FROM last_notified_at)::float8,
          notify_count
