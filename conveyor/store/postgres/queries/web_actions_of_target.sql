-- One target's actions, newest first along conveyor_actions_target.
SELECT id, extract(epoch FROM at)::float8, actor, action, target, details_json
FROM {schema}.conveyor_actions
WHERE target = %(target)s AND id < %(before)s
ORDER BY id DESC
LIMIT %(limit)s
