-- The conflict target names the partial unique index: while an incident of this rule and
-- subject is firing, a second one is not opened (and RETURNING gives no row). A concurrent
-- opener waits for the first one's commit and then does nothing.
INSERT INTO {schema}.conveyor_incidents (
    rule, subject, state, summary, details_json, opened_at, updated_at
)
VALUES (%(rule)s, %(subject)s, 'firing', %(summary)s, %(details_json)s, now(), now())
ON CONFLICT (rule, subject) WHERE state = 'firing' DO NOTHING
RETURNING id, rule, subject, state, summary, details_json,
          extract(epoch FROM opened_at)::float8, extract(epoch FROM updated_at)::float8,
          extract(epoch FROM resolved_at)::float8, extract(epoch FROM last_notified_at)::float8,
          notify_count
