UPDATE {schema}.conveyor_incidents
SET state = 'resolved', resolved_at = now(), updated_at = now()
WHERE rule = %(rule)s AND subject = %(subject)s AND state = 'firing'
RETURNING id, rule, subject, state, summary, details_json,
          extract(epoch FROM opened_at)::float8, extract(epoch FROM updated_at)::float8,
          extract(epoch FROM resolved_at)::float8, extract(epoch FROM last_notified_at)::float8,
          notify_count
