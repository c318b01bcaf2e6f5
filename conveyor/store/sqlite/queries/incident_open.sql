-- The conflict target names the partial unique index: while an incident of this rule and
-- subject is firing, a second one is not opened (and RETURNING gives no row).
INSERT INTO conveyor_incidents (
    rule, subject, state, summary, details_json, opened_at, updated_at
)
VALUES (:rule, :subject, 'firing', :summary, :details_json, :now, :now)
ON CONFLICT (rule, subject) WHERE state = 'firing' DO NOTHING
RETURNING id, rule, subject, state, summary, details_json, opened_at, updated_at, resolved_at,
          last_notified_at, notify_count
